// Every object key of DESIGN §4 in one place. Keys are tenant-relative; the blob store scopes each
// under `tenant/{userId}/` with tenantKey, so no caller can build a key outside its tenant.

const SAFE_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** A user id usable as a storage segment: safe characters, and never `.` or `..`. */
export function isStorageSafeId(id: string): boolean {
  return SAFE_SEGMENT.test(id) && !/^\.+$/.test(id);
}

export function tenantPrefix(userId: string): string {
  if (!isStorageSafeId(userId)) throw new Error(`invalid user id for storage: ${JSON.stringify(userId)}`);
  return `tenant/${userId}/`;
}

export function tenantKey(userId: string, key: string): string {
  if (key.startsWith('/') || key.split('/').some((s) => s === '..' || s === '.')) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  return tenantPrefix(userId) + key;
}

/** A storage-safe object name; the original name is kept in the row. */
export function storageName(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const safe = base
    .replace(/[^A-Za-z0-9._ -]/g, '_')
    .replace(/^\.+/, '')
    .slice(-200);
  return safe || 'upload';
}

export const documentKeys = {
  raw: (documentId: string, filename: string) => `raw/${documentId}/${storageName(filename)}`,
  rawPrefix: (documentId: string) => `raw/${documentId}/`,
  chunk: (documentId: string, index: number) => `chunks/${documentId}/chunk_${index}.txt`,
  chunkPrefix: (documentId: string) => `chunks/${documentId}/`,
};

export const chatKeys = {
  session: (sessionId: string) => `chats/${sessionId}/`,
  metadata: (sessionId: string) => `chats/${sessionId}/metadata.json`,
  messages: (sessionId: string) => `chats/${sessionId}/messages.json`,
  processed: (sessionId: string, n: number) => `chats/${sessionId}/processed/chat_${n}.txt`,
  processedPrefix: (sessionId: string) => `chats/${sessionId}/processed/`,
};

export const memoryKeys = {
  /** The current L1 biography (a view of the current memory version). */
  bio: () => 'metadata/bio.json',
};

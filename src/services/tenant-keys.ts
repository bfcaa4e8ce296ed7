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
  /** A view of the current version: `topics.json`, `entities.json`, `clusters.json`, `bio.json`. */
  view: (name: string) => `metadata/${name}`,
  version: (version: string) => `memory/l1/${version}/`,
  /** A snapshot file: `chunks.parquet` … `relations.parquet`, `bio.json`, `manifest.json` (last). */
  versionFile: (version: string, name: string) => `memory/l1/${version}/${name}`,
  extraction: (documentId: string) => `memory/extractions/${documentId}.json`,
  /** training_data/L1/graphrag_indexing/{subjective,objective}/{entities,relations}.parquet */
  graphrag: (perspective: 'subjective' | 'objective', name: 'entities' | 'relations') =>
    `training_data/L1/graphrag_indexing/${perspective}/${name}.parquet`,
  /** training_data/L1/processed_data/{subjective,objective}/{documentId}.txt */
  processed: (perspective: 'subjective' | 'objective', documentId: string) =>
    `training_data/L1/processed_data/${perspective}/${documentId}.txt`,
};

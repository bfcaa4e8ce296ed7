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
  /** Every chunk of the document, one JSON line each (DESIGN §4); a chunk is read by its pointer. */
  chunks: (documentId: string) => `chunks/${documentId}.jsonl`,
  /** The seed's layout, an object per chunk: read and removed until `npm run migrate:chunks` ran. */
  legacyChunk: (documentId: string, index: number) => `chunks/${documentId}/chunk_${index}.txt`,
  legacyChunkPrefix: (documentId: string) => `chunks/${documentId}/`,
};

/** A chunk's direct pointer: its chunk file's key and the bytes [start, end) of its JSON line. */
export function chunkPointer(key: string, start: number, end: number): string {
  return `${key}#${start}-${end}`;
}

const POINTER = /^([^#]+)#(\d{1,15})-(\d{1,15})$/;

/** The key and byte range of a chunk pointer; null for a plain key (the seed's per-chunk objects). */
export function parseChunkPointer(pointer: string): { key: string; start: number; end: number } | null {
  const m = POINTER.exec(pointer);
  if (!m) return null;
  const start = Number(m[2]);
  const end = Number(m[3]);
  return end > start ? { key: m[1]!, start, end } : null;
}

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

/** L2 data of a training run (MEMORY-TRAINING.md B), immutable once its manifest is written. */
export const l2Keys = {
  run: (runId: string) => `training_data/L2/${runId}/`,
  /** `preference`, `diversity`, `selfqa`, `abstention` or `merged`. */
  raw: (runId: string, name: string) => `training_data/L2/${runId}/data_pipeline/raw_data/${name}.json`,
  mapping: (runId: string, name: string) => `training_data/L2/${runId}/data_pipeline/mapping/${name}.json`,
  dataset: (runId: string) => `training_data/L2/${runId}/training_inputs/dataset.json`,
  eval: (runId: string) => `training_data/L2/${runId}/training_inputs/eval.json`,
  /** Written last: its presence says every other file of the run is complete. */
  manifest: (runId: string) => `training_data/L2/${runId}/training_inputs/manifest.json`,
};

/** Trained models (DESIGN §4): a run's own folder, the promoted copies, and earlier promotions. */
export const loraKeys = {
  /** What the trainer uploads under (its `outputPrefix`, tenant-relative). */
  run: (runId: string) => `lora/${runId}`,
  runFile: (runId: string, name: string) => `lora/${runId}/${name}`,
  /** Copies of the promoted run's files; `manifest.json` is written last and names the GGUF served. */
  latestFile: (name: string) => `lora/latest/${name}`,
  latestManifest: () => 'lora/latest/manifest.json',
  history: (runId: string) => `lora/history/${runId}.manifest.json`,
};

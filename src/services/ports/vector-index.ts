import { createHash } from 'node:crypto';

// Port for the per-user vector index (DESIGN §5). Vectors are ours; no chunk text is stored here,
// only pointers to the S3 object that holds it.

export interface ChunkVector {
  documentId: string;
  chunkIndex: number;
  s3Path: string;
  filename: string;
  contentType: string;
  timestamp: string;
  embeddingModel: string;
  charStart: number;
  charEnd: number;
  page: number | null;
  vector: number[];
}

export type ChunkPointer = Omit<ChunkVector, 'vector'>;

export interface VectorHit extends ChunkPointer {
  id: string;
  /** Cosine similarity in [-1, 1]; higher is closer. */
  score: number;
}

export interface SearchOptions {
  limit: number;
  embeddingModel: string;
  minScore?: number;
}

export interface VectorIndex {
  readonly backend: 'weaviate' | 'embedded';
  ensureTenant(userId: string): Promise<void>;
  upsert(userId: string, chunks: readonly ChunkVector[]): Promise<void>;
  search(userId: string, vector: readonly number[], options: SearchOptions): Promise<VectorHit[]>;
  deleteByDocument(userId: string, documentId: string): Promise<number>;
  countByDocument(userId: string, documentId: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const NAMESPACE = '6f1c6c4e-5b0a-4d58-9d7a-2f0c3b1e9a11';

/** uuid v5 of (user, document, chunk index, embedding model): a retried write overwrites itself. */
export function chunkVectorId(
  userId: string,
  documentId: string,
  chunkIndex: number,
  embeddingModel: string,
) {
  const ns = Buffer.from(NAMESPACE.replaceAll('-', ''), 'hex');
  const hash = createHash('sha1')
    .update(ns)
    .update(`${userId}\u0000${documentId}\u0000${chunkIndex}\u0000${embeddingModel}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Weaviate tenant names allow [A-Za-z0-9_-]; user ids are mapped reversibly-enough and safely. */
export function tenantName(userId: string): string {
  if (/^[A-Za-z0-9_-]{1,60}$/.test(userId)) return `u_${userId}`;
  return `h_${createHash('sha256').update(userId).digest('hex').slice(0, 40)}`;
}

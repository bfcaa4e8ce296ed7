import { createHash } from 'node:crypto';
import { embeddingModelName } from './embedder.ts';

// Port for the per-user vector index (DESIGN §5). Vectors are ours; no chunk text is stored here,
// only pointers to the S3 object that holds it. Each embedding model tag (model and size) has a
// collection of its own, one tenant per user in each: a search reads one collection only.

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

export interface ScannedVector {
  chunkIndex: number;
  vector: number[];
}

export interface SearchOptions {
  limit: number;
  /** The query vector's model tag: only that model's collection is searched. */
  embeddingModel: string;
  minScore?: number;
}

export interface VectorIndex {
  readonly backend: 'weaviate' | 'embedded';
  /** Creates the user's tenant in the collection of `embeddingModel` (and the collection). */
  ensureTenant(userId: string, embeddingModel: string): Promise<void>;
  /** Each chunk goes to the collection of its own `embeddingModel`. */
  upsert(userId: string, chunks: readonly ChunkVector[]): Promise<void>;
  search(userId: string, vector: readonly number[], options: SearchOptions): Promise<VectorHit[]>;
  /**
   * The document's vectors in the collection of `embeddingModel`, in chunk order: L1 memory
   * projects them once per document (MEMORY-TRAINING.md A1) and caches the result.
   */
  scan(userId: string, options: { documentId: string; embeddingModel: string }): Promise<ScannedVector[]>;
  /** Removes the document's vectors from every model's collection. */
  deleteByDocument(userId: string, documentId: string): Promise<number>;
  /** The document's vectors in the collection of `embeddingModel`, or in all of them. */
  countByDocument(userId: string, documentId: string, embeddingModel?: string): Promise<number>;
  /** Removes the user's tenant from every model's collection; the vectors it held. */
  deleteTenant(userId: string): Promise<number>;
  /** The user's vectors across every model's collection. */
  countTenant(userId: string): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How collections are named (WEAVIATE_COLLECTION, WEAVIATE_COLLECTION_MODEL). */
export interface CollectionNaming {
  /** The collection of `defaultModel` itself (the seed's `TenantChunk`), and every other's prefix. */
  prefix: string;
  /** The model tag whose vectors the collection named `prefix` holds. */
  defaultModel: string;
}

// Weaviate class names: /^[A-Z][_0-9A-Za-z]{0,254}$/.
const MAX_NAME = 200;

/**
 * The collection of a model tag: `prefix` for the default model, else `prefix_<model>_<size>`
 * (`TenantChunk_text_embedding_3_small_1536`). Two tags that spell alike share a collection only
 * at one size, and the model filter of every search keeps them apart even then.
 */
export function collectionName(naming: CollectionNaming, embeddingModel: string): string {
  if (embeddingModel === naming.defaultModel) return naming.prefix;
  const slug = embeddingModel.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const name = `${naming.prefix}_${slug}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(embeddingModel).digest('hex').slice(0, 16);
  return `${name.slice(0, MAX_NAME - hash.length - 1)}_${hash}`;
}

/** Whether a collection name is one of this naming's (the default's or a prefixed one). */
export function isCollectionOf(naming: CollectionNaming, name: string): boolean {
  return name === naming.prefix || name.startsWith(`${naming.prefix}_`);
}

/**
 * The `embedding_model` values a search under `embeddingModel` accepts. The default collection
 * also holds objects written before tags carried the size, tagged with the bare model name: they
 * are this model's (a collection holds one size), so they stay found until they are re-embedded.
 */
export function acceptedModelTags(naming: CollectionNaming, embeddingModel: string): string[] {
  const bare = embeddingModelName(embeddingModel);
  return embeddingModel === naming.defaultModel && bare !== embeddingModel
    ? [embeddingModel, bare]
    : [embeddingModel];
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

import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../logger.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { ReplySource } from '../ports/events.ts';
import type { VectorHit, VectorIndex } from '../ports/vector-index.ts';
import { tenantPrefix } from '../tenant-keys.ts';

export interface RetrievedChunk extends ReplySource {
  filename: string;
  text: string;
}

/**
 * Chunk text lives only in S3 (DESIGN §5). Loads are batched per tick (DataLoader) and kept in a
 * process-wide LRU bounded by size: a chunk object never changes once its document is ingested.
 */
export class ChunkTextLoader {
  private readonly cache: LRUCache<string, string>;
  private readonly loader: DataLoader<string, string | null>;
  private readonly blobs: BlobStore;

  constructor(blobs: BlobStore, maxBytes = 64 * 1024 * 1024) {
    this.blobs = blobs;
    this.cache = new LRUCache<string, string>({
      maxSize: maxBytes,
      sizeCalculation: (v) => v.length * 2 || 1,
    });
    this.loader = new DataLoader((keys) => this.batch(keys), { cache: false });
  }

  /** Text of a chunk of `userId`'s, or null when the object is gone (its document was deleted). */
  async load(userId: string, s3Path: string): Promise<string | null> {
    const key = `${userId}\u0000${tenantRelative(userId, s3Path)}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    return this.loader.load(key);
  }

  private async batch(keys: readonly string[]): Promise<(string | null)[]> {
    const byUser = new Map<string, { index: number; path: string }[]>();
    keys.forEach((key, index) => {
      const [userId, path] = key.split('\u0000') as [string, string];
      const list = byUser.get(userId) ?? [];
      list.push({ index, path });
      byUser.set(userId, list);
    });
    const out: (string | null)[] = new Array(keys.length).fill(null);
    await Promise.all(
      [...byUser].map(async ([userId, items]) => {
        const bodies = await this.blobs.getMany(
          userId,
          items.map((i) => i.path),
        );
        bodies.forEach((body, j) => {
          const item = items[j]!;
          if (body instanceof BlobNotFoundError) return;
          const text = body.toString('utf8');
          this.cache.set(keys[item.index]!, text);
          out[item.index] = text;
        });
      }),
    );
    return out;
  }
}

/** Pointers may be stored tenant-relative or as full keys; a key in another tenant is refused. */
export function tenantRelative(userId: string, s3Path: string): string {
  const own = tenantPrefix(userId);
  if (s3Path.startsWith(own)) return s3Path.slice(own.length);
  if (s3Path.startsWith('tenant/')) throw new Error('chunk pointer outside the caller tenant');
  return s3Path;
}

export interface RetrievalOptions {
  topK: number;
  minScore: number;
}

export class RetrievalService {
  private readonly deps: {
    embedder: Embedder;
    vectors: VectorIndex;
    chunks: ChunkTextLoader;
    log: Logger;
  };
  private readonly options: RetrievalOptions;

  constructor(
    deps: { embedder: Embedder; vectors: VectorIndex; chunks: ChunkTextLoader; log: Logger },
    options: RetrievalOptions,
  ) {
    this.deps = deps;
    this.options = options;
  }

  /** The user's own passages closest to `question`, best first, each with its text. */
  async retrieve(userId: string, question: string, signal?: AbortSignal): Promise<RetrievedChunk[]> {
    if (this.options.topK === 0 || !question.trim()) return [];
    const [vector] = await this.deps.embedder.embed([question], signal);
    if (!vector) return [];
    const hits = await this.deps.vectors.search(userId, vector, {
      limit: this.options.topK,
      minScore: this.options.minScore,
      embeddingModel: this.deps.embedder.model,
    });
    const texts = await Promise.all(hits.map((h) => this.deps.chunks.load(userId, h.s3Path)));
    const out: RetrievedChunk[] = [];
    hits.forEach((hit, i) => {
      const text = texts[i];
      // a vector whose chunk object is gone belongs to a document being deleted: skip it
      if (text == null) return;
      if (hit.score < this.options.minScore) return;
      out.push(toRetrieved(hit, text));
    });
    return out.sort((a, b) => b.score - a.score);
  }
}

function toRetrieved(hit: VectorHit, text: string): RetrievedChunk {
  return {
    documentId: hit.documentId,
    chunkIndex: hit.chunkIndex,
    s3Path: hit.s3Path,
    charStart: hit.charStart,
    charEnd: hit.charEnd,
    page: hit.page,
    score: hit.score,
    filename: hit.filename,
    text,
  };
}

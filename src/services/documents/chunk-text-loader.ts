import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import type { DocumentsRepository } from '../ports/repositories.ts';
import { tenantPrefix } from '../tenant-keys.ts';

/** The document rows a chunk's text belongs to: present, and which ingest wrote its chunks. */
export type DocumentVersions = Pick<DocumentsRepository, 'getMany'>;

const CHUNK_DOCUMENT = /^chunks\/([^/]+)\//;

/**
 * Chunk text lives only in S3 (DESIGN §5). Loads are batched per tick (DataLoader) and kept in a
 * process-wide LRU bounded by size. A chunk's key is reused when its document is reprocessed, and
 * the API and the worker are separate processes, so an entry is keyed by the ingest job that wrote
 * it and every load checks the document's row (one `$in` query per batch): a deleted document's
 * text is never served, a reprocessed one's old text is never found again (it ages out), and no
 * process has to be told.
 */
export class ChunkTextLoader {
  private readonly cache: LRUCache<string, string>;
  private readonly loader: DataLoader<string, string | null>;
  private readonly blobs: BlobStore;
  private readonly documents: DocumentVersions;

  constructor(blobs: BlobStore, documents: DocumentVersions, maxBytes = 64 * 1024 * 1024) {
    this.blobs = blobs;
    this.documents = documents;
    this.cache = new LRUCache<string, string>({
      maxSize: maxBytes,
      sizeCalculation: (v) => v.length * 2 || 1,
    });
    this.loader = new DataLoader((keys) => this.batch(keys), { cache: false });
  }

  /** Text of a chunk of `userId`'s, or null when its document or the object is gone. */
  load(userId: string, s3Path: string): Promise<string | null> {
    return this.loader.load(`${userId}\u0000${tenantRelative(userId, s3Path)}`);
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
    await Promise.all([...byUser].map(([userId, items]) => this.batchOf(userId, items, out)));
    return out;
  }

  private async batchOf(userId: string, items: { index: number; path: string }[], out: (string | null)[]) {
    const documentOf = (path: string) => CHUNK_DOCUMENT.exec(path)?.[1];
    const ids = [...new Set(items.map((i) => documentOf(i.path)).filter((id) => id !== undefined))];
    // getMany refuses ids that are not document ids (they read as deleted)
    const rows = ids.length > 0 ? await this.documents.getMany(userId, ids) : [];
    const byId = new Map(rows.filter((r) => r !== null).map((r) => [r.id, r]));
    const fetch: { index: number; path: string; cacheKey?: string }[] = [];
    for (const item of items) {
      const id = documentOf(item.path);
      if (id === undefined) {
        fetch.push(item); // not a document's chunk: read through, never cached
        continue;
      }
      const doc = byId.get(id);
      if (!doc) continue; // deleted (or never existed): null
      const cacheKey = `${userId}\u0000${item.path}\u0000${doc.ingestJobId ?? ''}`;
      const hit = this.cache.get(cacheKey);
      if (hit !== undefined) out[item.index] = hit;
      // only a processed document's chunks are final for its ingest job
      else fetch.push(doc.status === 'processed' ? { ...item, cacheKey } : item);
    }
    if (fetch.length === 0) return;
    const bodies = await this.blobs.getMany(
      userId,
      fetch.map((i) => i.path),
    );
    bodies.forEach((body, j) => {
      const item = fetch[j]!;
      if (body instanceof BlobNotFoundError) return;
      const text = body.toString('utf8');
      if (item.cacheKey) this.cache.set(item.cacheKey, text);
      out[item.index] = text;
    });
  }
}

/** Pointers may be stored tenant-relative or as full keys; a key in another tenant is refused. */
export function tenantRelative(userId: string, s3Path: string): string {
  const own = tenantPrefix(userId);
  if (s3Path.startsWith(own)) return s3Path.slice(own.length);
  if (s3Path.startsWith('tenant/')) throw new Error('chunk pointer outside the caller tenant');
  return s3Path;
}

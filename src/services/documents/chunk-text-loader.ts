import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import type { DocumentRecord } from '../ports/document.ts';
import type { DocumentsRepository } from '../ports/repositories.ts';
import { chunkPointer, documentKeys, parseChunkPointer, tenantPrefix } from '../tenant-keys.ts';
import { parseChunkLine, readChunkFile } from './chunk-file.ts';

/** The document rows a chunk's text belongs to: present, and which ingest wrote its chunks. */
export type DocumentVersions = Pick<DocumentsRepository, 'getMany'>;

/** The document of a chunk pointer (`chunks/{id}.jsonl#a-b`) or of a seed chunk key (`chunks/{id}/…`). */
const CHUNK_DOCUMENT = /^chunks\/([^/#]+?)(?:\.jsonl#|\/)/;

type Item =
  | { index: number; kind: 'path'; path: string }
  | { index: number; kind: 'chunk'; documentId: string; chunkIndex: number };

type Row = Pick<DocumentRecord, 'id' | 'status' | 'ingestJobId' | 'chunkCount'>;

/**
 * Chunk text lives only in S3 (DESIGN §4, §5): a document's chunks in one file, each read directly
 * by its pointer (a ranged GET). Loads are batched per tick (DataLoader) and kept in a
 * process-wide LRU bounded by size. A chunk file's key is reused when its document is reprocessed,
 * and the API and the worker are separate processes, so an entry is keyed by the ingest job that
 * wrote it and every load checks the document's row (one `$in` query per batch): a deleted
 * document's text is never served, a reprocessed one's old text is never found again (it ages
 * out), and no process has to be told.
 */
export class ChunkTextLoader {
  /** Text by (user, pointer, ingest job). */
  private readonly cache: LRUCache<string, string>;
  /** A document's pointers in chunk order by (user, document, ingest job): reads by chunk index. */
  private readonly pointerLists: LRUCache<string, string[]>;
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
    this.pointerLists = new LRUCache<string, string[]>({
      maxSize: Math.max(1024 * 1024, maxBytes / 16),
      sizeCalculation: (v) => v.length * 64 || 1,
    });
    this.loader = new DataLoader((keys) => this.batch(keys), { cache: false });
  }

  /** Text of a chunk of `userId`'s by its pointer, or null when its document or its bytes are gone. */
  load(userId: string, s3Path: string): Promise<string | null> {
    return this.loader.load(`${userId}\u0000p\u0000${tenantRelative(userId, s3Path)}`);
  }

  /** Text of a document's chunk by its index (what memory records), or null when it is gone. */
  loadByIndex(userId: string, documentId: string, chunkIndex: number): Promise<string | null> {
    return this.loader.load(`${userId}\u0000c\u0000${documentId}\u0000${chunkIndex}`);
  }

  /**
   * The pointers of the document's chunks in index order (one GET of its chunk file, then cached
   * for its ingest job); the seed's per-chunk keys for a document not migrated yet.
   */
  async pointers(userId: string, doc: Row): Promise<string[]> {
    if (doc.chunkCount === 0) return [];
    const fresh = new Map<string, string>();
    const lists = await this.pointerListsOf(userId, [doc], fresh);
    return lists.get(doc.id) ?? [];
  }

  private async batch(keys: readonly string[]): Promise<(string | null)[]> {
    const byUser = new Map<string, Item[]>();
    keys.forEach((key, index) => {
      const [userId, kind, a, b] = key.split('\u0000') as [string, string, string, string?];
      const list = byUser.get(userId) ?? [];
      list.push(
        kind === 'p'
          ? { index, kind: 'path', path: a }
          : { index, kind: 'chunk', documentId: a, chunkIndex: Number(b) },
      );
      byUser.set(userId, list);
    });
    const out: (string | null)[] = new Array(keys.length).fill(null);
    await Promise.all([...byUser].map(([userId, items]) => this.batchOf(userId, items, out)));
    return out;
  }

  private async batchOf(userId: string, items: Item[], out: (string | null)[]) {
    const documentOf = (item: Item) =>
      item.kind === 'chunk' ? item.documentId : CHUNK_DOCUMENT.exec(item.path)?.[1];
    const ids = [...new Set(items.map(documentOf).filter((id) => id !== undefined))];
    // getMany refuses ids that are not document ids (they read as deleted)
    const rows = ids.length > 0 ? await this.documents.getMany(userId, ids) : [];
    const byId = new Map(rows.filter((r) => r !== null).map((r) => [r.id, r]));

    // texts read whole with a chunk file in this batch, by pointer
    const fresh = new Map<string, string>();
    const byIndex = items.filter((i) => i.kind === 'chunk' && byId.has(i.documentId));
    const lists = await this.pointerListsOf(
      userId,
      [...new Set(byIndex.map((i) => byId.get((i as { documentId: string }).documentId)!))],
      fresh,
    );

    const fetch: { index: number; path: string; cacheKey?: string }[] = [];
    for (const item of items) {
      const id = documentOf(item);
      let path: string;
      if (item.kind === 'chunk') {
        const pointer = lists.get(item.documentId)?.[item.chunkIndex];
        if (!pointer) continue; // deleted, or no such chunk: null
        path = pointer;
      } else path = item.path;
      if (id === undefined) {
        fetch.push({ index: item.index, path }); // not a document's chunk: read through, never cached
        continue;
      }
      const doc = byId.get(id);
      if (!doc) continue; // deleted (or never existed): null
      const cacheKey = textKey(userId, path, doc);
      const hit = this.cache.get(cacheKey) ?? fresh.get(path);
      if (hit !== undefined) out[item.index] = hit;
      // only a processed document's chunks are final for its ingest job
      else
        fetch.push(
          doc.status === 'processed' ? { index: item.index, path, cacheKey } : { index: item.index, path },
        );
    }
    if (fetch.length === 0) return;

    const packed = fetch.flatMap((f) => {
      const range = parseChunkPointer(f.path);
      return range ? [{ f, range }] : [];
    });
    const whole = fetch.filter((f) => parseChunkPointer(f.path) === null);
    const [ranged, objects] = await Promise.all([
      packed.length
        ? this.blobs.getRanges(
            userId,
            packed.map((p) => p.range),
          )
        : [],
      whole.length
        ? this.blobs.getMany(
            userId,
            whole.map((w) => w.path),
          )
        : [],
    ]);
    const settle = (item: { index: number; cacheKey?: string }, text: string | null) => {
      if (text === null) return;
      if (item.cacheKey) this.cache.set(item.cacheKey, text);
      out[item.index] = text;
    };
    ranged.forEach((body, j) => {
      // bytes that are not one whole chunk line: the pointer predates a rewrite of its file
      settle(packed[j]!.f, body instanceof BlobNotFoundError ? null : (parseChunkLine(body)?.text ?? null));
    });
    objects.forEach((body, j) => {
      settle(whole[j]!, body instanceof BlobNotFoundError ? null : body.toString('utf8'));
    });
  }

  /** Pointer lists of documents (cached, else one GET of each chunk file), priming `fresh` with texts read. */
  private async pointerListsOf(userId: string, docs: readonly Row[], fresh: Map<string, string>) {
    const lists = new Map<string, string[]>();
    const missing: Row[] = [];
    for (const doc of docs) {
      const hit = this.pointerLists.get(listKey(userId, doc));
      if (hit) lists.set(doc.id, hit);
      else missing.push(doc);
    }
    if (missing.length === 0) return lists;
    const bodies = await this.blobs.getMany(
      userId,
      missing.map((d) => documentKeys.chunks(d.id)),
    );
    missing.forEach((doc, j) => {
      const body = bodies[j]!;
      const final = doc.status === 'processed';
      let list: string[];
      if (body instanceof BlobNotFoundError) {
        // not packed yet (stored before `npm run migrate:chunks`): the seed's object per chunk
        list = Array.from({ length: doc.chunkCount }, (_, i) => documentKeys.legacyChunk(doc.id, i));
      } else {
        const key = documentKeys.chunks(doc.id);
        const lines = readChunkFile(body);
        let size = 0;
        for (const index of lines.keys()) size = Math.max(size, index + 1);
        list = Array.from({ length: size }, () => '');
        for (const [index, line] of lines) {
          const pointer = chunkPointer(key, line.start, line.end);
          list[index] = pointer;
          fresh.set(pointer, line.chunk.text);
          if (final) this.cache.set(textKey(userId, pointer, doc), line.chunk.text);
        }
      }
      if (final) this.pointerLists.set(listKey(userId, doc), list);
      lists.set(doc.id, list);
    });
    return lists;
  }
}

const textKey = (userId: string, path: string, doc: Row) =>
  `${userId}\u0000${path}\u0000${doc.ingestJobId ?? ''}`;
const listKey = (userId: string, doc: Row) => `${userId}\u0000${doc.id}\u0000${doc.ingestJobId ?? ''}`;

/** Pointers may be stored tenant-relative or as full keys; a key in another tenant is refused. */
export function tenantRelative(userId: string, s3Path: string): string {
  const own = tenantPrefix(userId);
  if (s3Path.startsWith(own)) return s3Path.slice(own.length);
  if (s3Path.startsWith('tenant/')) throw new Error('chunk pointer outside the caller tenant');
  return s3Path;
}

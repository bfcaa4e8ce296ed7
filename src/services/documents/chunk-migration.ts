import pMap from 'p-map';
import type { BlobStore } from '../ports/blob-store.ts';
import type { LexicalIndex } from '../ports/lexical-index.ts';
import type { DocumentKey, DocumentsRepository } from '../ports/repositories.ts';
import { documentKeys } from '../tenant-keys.ts';

// `npm run migrate:chunks` (src/cli/migrate-chunks.ts): documents stored before chunks were
// packed (an object per chunk, `chunks/{id}/chunk_{n}.txt`, no lexical rows) are re-ingested, so
// each gets its chunk file, pointers into it and its lexical rows; the ingest removes the seed's
// objects. Until then they stay readable (ChunkTextLoader and readChunkTexts fall back to them).

export interface ChunkMigrationDeps {
  documents: Pick<DocumentsRepository, 'listEmbeddedWithOtherModel'>;
  blobs: Pick<BlobStore, 'list'>;
  lexical: Pick<LexicalIndex, 'countByDocument'>;
  /** Queues the document's ingest again (DocumentsService.reprocess). */
  reprocess(userId: string, documentId: string): Promise<unknown>;
}

export interface ChunkMigrationOptions {
  /** Only this user's documents. */
  userId?: string;
  /** Report what would be re-ingested, queue nothing. */
  dryRun?: boolean;
  pageSize?: number;
  concurrency?: number;
  onDocument?(document: DocumentKey, outcome: 'queued' | 'would-queue' | 'failed', error?: unknown): void;
}

export interface ChunkMigrationResult {
  /** Processed documents looked at. */
  scanned: number;
  /** Of those, stored in the seed's layout (or without lexical rows). */
  legacy: number;
  queued: number;
  failed: number;
  /** The documents found in the old layout (queued unless a dry run). */
  documents: DocumentKey[];
}

/** Whether a processed document still needs its chunks packed: no chunk file, seed objects, or no lexical rows. */
export async function needsRepack(deps: Pick<ChunkMigrationDeps, 'blobs' | 'lexical'>, doc: DocumentKey) {
  // `chunks/{id}` without the slash lists both `chunks/{id}.jsonl` and the seed's `chunks/{id}/…`
  const keys = await deps.blobs.list(doc.userId, `chunks/${doc.id}`);
  if (!keys.includes(documentKeys.chunks(doc.id))) return true;
  if (keys.some((k) => k.startsWith(documentKeys.legacyChunkPrefix(doc.id)))) return true;
  return (await deps.lexical.countByDocument(doc.userId, doc.id)) === 0;
}

/** Re-ingests every processed document (of one user, or all) whose chunks are not packed yet. */
export async function migrateChunkLayout(
  deps: ChunkMigrationDeps,
  options: ChunkMigrationOptions = {},
): Promise<ChunkMigrationResult> {
  const pageSize = options.pageSize ?? 200;
  const result: ChunkMigrationResult = { scanned: 0, legacy: 0, queued: 0, failed: 0, documents: [] };
  let after: DocumentKey | undefined;
  for (;;) {
    // every processed document in (user, id) order: no document is embedded with the empty tag
    const page = await deps.documents.listEmbeddedWithOtherModel(
      '',
      pageSize,
      after,
      options.userId ? { userId: options.userId } : undefined,
    );
    result.scanned += page.length;
    await pMap(
      page,
      async (doc) => {
        if (!(await needsRepack(deps, doc))) return;
        result.legacy++;
        result.documents.push(doc);
        if (options.dryRun) return options.onDocument?.(doc, 'would-queue');
        try {
          await deps.reprocess(doc.userId, doc.id);
          result.queued++;
          options.onDocument?.(doc, 'queued');
        } catch (error) {
          result.failed++;
          options.onDocument?.(doc, 'failed', error);
        }
      },
      { concurrency: options.concurrency ?? 8 },
    );
    if (page.length < pageSize) return result;
    after = page.at(-1);
  }
}

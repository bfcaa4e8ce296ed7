import pMap from 'p-map';
import type { BlobStore } from '../../ports/blob-store.ts';
import type { Embedder } from '../../ports/embedder.ts';
import type { EventBus } from '../../ports/event-bus.ts';
import type { DocumentsRepository } from '../../ports/repositories.ts';
import type { ChunkVector, VectorIndex } from '../../ports/vector-index.ts';
import { documentKeys } from '../../tenant-keys.ts';
import { type Chunk, chunkText } from './chunker.ts';
import { ExtractionError, extractText } from './extract.ts';
import { IngestProgress } from './progress.ts';

export interface IngestRun {
  userId: string;
  documentId: string;
  /** The queue job running this ingest; a run whose job is no longer the document's does nothing. */
  jobId: string;
  attempt: number;
  signal: AbortSignal;
}

/** A failure no retry can fix (corrupt, encrypted, image-only, empty): the job fails at once. */
export class PermanentIngestError extends Error {
  readonly permanent = true;
}

export type IngestOutcome = { status: 'processed'; chunks: number } | { status: 'skipped'; reason: string };

export interface IngestDeps {
  documents: DocumentsRepository;
  blobs: BlobStore;
  vectors: VectorIndex;
  embedder: Embedder;
  events: EventBus;
}

export interface IngestOptions {
  maxUncompressedBytes: number;
  chunkMinTokens: number;
  chunkMaxTokens: number;
}

const { chunk: chunkKey, chunkPrefix } = documentKeys;
const EMBED_BATCH = 128;
const S3_CONCURRENCY = 16;

/**
 * L0 ingest of one stored upload: extract → chunk → chunk objects to S3 → embed → vectors to
 * Weaviate → row processed. Idempotent: chunk keys and vector ids are deterministic, stale chunk
 * objects past the new count and the document's old vectors are removed, so any number of
 * retries (or a reprocess) leaves exactly one copy of the current chunks.
 */
export async function ingestDocument(
  deps: IngestDeps,
  options: IngestOptions,
  run: IngestRun,
): Promise<IngestOutcome> {
  const { blobs, vectors, embedder, documents } = deps;
  const { userId, documentId, signal } = run;
  const doc = await documents.get(userId, documentId);
  if (!doc) return { status: 'skipped', reason: 'document deleted' };
  if (doc.ingestJobId !== run.jobId) return { status: 'skipped', reason: 'superseded by a newer ingest' };
  const freshUpload = doc.status === 'queued' && !doc.embeddingModel && run.attempt === 1;
  await documents.startProcessing(userId, documentId);
  const progress = new IngestProgress(deps.events, userId, documentId, run.attempt);

  await progress.report('EXTRACTING', 0, 1);
  const raw = await blobs.get(userId, doc.s3Path);
  signal.throwIfAborted();
  let extracted: Awaited<ReturnType<typeof extractText>>;
  try {
    extracted = await extractText(raw, doc.filename, {
      maxUncompressedBytes: options.maxUncompressedBytes,
    });
  } catch (error) {
    if (error instanceof ExtractionError) throw new PermanentIngestError(error.message);
    throw error;
  }
  if (!extracted.text.trim()) throw new PermanentIngestError('the document contains no text');

  signal.throwIfAborted();
  await progress.report('CHUNKING', 0, 1);
  const chunks: Chunk[] = await chunkText(
    extracted.text,
    (texts) => embedder.embed(texts, signal),
    { minTokens: options.chunkMinTokens, maxTokens: options.chunkMaxTokens },
    extracted.pages,
  );

  // chunk objects: overwritten in place, then anything past the new count removed
  signal.throwIfAborted();
  await pMap(
    chunks,
    async (chunk) => {
      signal.throwIfAborted();
      await blobs.put(userId, chunkKey(documentId, chunk.index), chunk.text, {
        contentType: 'text/plain; charset=utf-8',
      });
    },
    { concurrency: S3_CONCURRENCY },
  );
  if (!freshUpload) {
    const keep = new Set(chunks.map((c) => chunkKey(documentId, c.index)));
    const stale = (await blobs.list(userId, chunkPrefix(documentId))).filter((k) => !keep.has(k));
    if (stale.length) await blobs.delete(userId, stale);
    // old vectors may be of another model or past the new count: drop them all, then write anew
    await vectors.deleteByDocument(userId, documentId);
  }

  // Progress goes out when a stage starts (and within a long one, throttled): a stage's own
  // "all done" would be followed at once by the next stage's start, which carries the same count.
  const timestamp = doc.uploadedAt.toISOString();
  for (let from = 0; from < chunks.length; from += EMBED_BATCH) {
    signal.throwIfAborted();
    const batch = chunks.slice(from, from + EMBED_BATCH);
    await progress.report('EMBEDDING', from, chunks.length);
    const embedded = await embedder.embed(
      batch.map((c) => c.text),
      signal,
    );
    const points: ChunkVector[] = batch.map((c, i) => ({
      documentId,
      chunkIndex: c.index,
      s3Path: chunkKey(documentId, c.index),
      filename: doc.filename,
      contentType: doc.contentType,
      timestamp,
      embeddingModel: embedder.model,
      charStart: c.charStart,
      charEnd: c.charEnd,
      page: c.page,
      vector: embedded[i]!,
    }));
    signal.throwIfAborted();
    await progress.report('INDEXING', from, chunks.length);
    await vectors.upsert(userId, points);
  }

  const updated = await documents.markProcessed(userId, documentId, run.jobId, {
    chunkCount: chunks.length,
    embeddingModel: embedder.model,
  });
  if (!updated) {
    // deleted (or reprocessed) while we ran: leave nothing of this run behind
    const still = await documents.get(userId, documentId);
    if (!still) {
      await Promise.all([
        blobs.deletePrefix(userId, chunkPrefix(documentId)),
        vectors.deleteByDocument(userId, documentId),
      ]);
    }
    return { status: 'skipped', reason: 'document changed during ingest' };
  }
  await progress.report('DONE', chunks.length, chunks.length);
  return { status: 'processed', chunks: chunks.length };
}

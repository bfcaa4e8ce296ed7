import type { BlobStore } from '../../ports/blob-store.ts';
import type { Embedder } from '../../ports/embedder.ts';
import type { EventBus } from '../../ports/event-bus.ts';
import type { LexicalChunk, LexicalIndex } from '../../ports/lexical-index.ts';
import type { DocumentsRepository } from '../../ports/repositories.ts';
import type { ChunkVector, VectorIndex } from '../../ports/vector-index.ts';
import { chunkPointer, documentKeys } from '../../tenant-keys.ts';
import { packChunks } from '../chunk-file.ts';
import { type Chunk, chunkText, type Span } from './chunker.ts';
import { type Extracted, ExtractionError, extractText } from './extract.ts';
import type { ExtractPool } from './extract-pool.ts';
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
  /** The lexical side of hybrid search: the chunks' terms and pointers (chunk_terms). */
  lexical: LexicalIndex;
  /** Chunk vectors (the configured embedder). */
  embedder: Embedder;
  /**
   * Sentence vectors for chunk boundaries only (the local model, say, so the paid API embeds each
   * chunk once and never every sentence); `embedder` when not given.
   */
  sentenceEmbedder?: Embedder;
  events: EventBus;
  /** Extraction and sentence splitting off the event loop; in this thread when not given. */
  extractPool?: ExtractPool;
}

export interface IngestOptions {
  maxUncompressedBytes: number;
  chunkMinTokens: number;
  chunkMaxTokens: number;
}

const EMBED_BATCH = 128;

/**
 * Everything chunk-shaped a document has in storage, of any ingest: its chunk file, the seed's
 * per-chunk objects (before `npm run migrate:chunks`), its vectors of every model and its lexical
 * rows. Deletion, a final failure and an ingest finding its document gone all remove the same set.
 */
export async function removeDocumentChunks(
  deps: Pick<IngestDeps, 'blobs' | 'vectors' | 'lexical'>,
  userId: string,
  documentId: string,
): Promise<void> {
  await Promise.all([
    deps.blobs.delete(userId, [documentKeys.chunks(documentId)]),
    deps.blobs.deletePrefix(userId, documentKeys.legacyChunkPrefix(documentId)),
    deps.vectors.deleteByDocument(userId, documentId),
    deps.lexical.deleteByDocument(userId, documentId),
  ]);
}

/**
 * L0 ingest of one stored upload: extract → chunk → the chunk file to S3 (one PUT) → embed →
 * vectors and pointers to Weaviate → lexical rows to PostgreSQL → row processed. Idempotent: the
 * chunk file's key and the vector ids are deterministic, the document's old vectors go before the
 * new ones and its lexical rows are replaced whole, so any number of retries (or a reprocess)
 * leaves exactly one copy of the current chunks.
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
  let extracted: Extracted;
  let spans: Span[] | undefined;
  try {
    if (deps.extractPool) {
      ({ extracted, spans } = await deps.extractPool.extract(
        {
          bytes: raw,
          filename: doc.filename,
          maxUncompressedBytes: options.maxUncompressedBytes,
          maxTokens: options.chunkMaxTokens,
        },
        signal,
      ));
    } else {
      extracted = await extractText(raw, doc.filename, {
        maxUncompressedBytes: options.maxUncompressedBytes,
      });
    }
  } catch (error) {
    if (error instanceof ExtractionError) throw new PermanentIngestError(error.message);
    throw error;
  }
  if (!extracted.text.trim()) throw new PermanentIngestError('the document contains no text');
  // uploaded as a chat (kind CHAT) but not a chat export: its text would be taken for a conversation
  if (doc.kind === 'chat' && extracted.format !== 'chat-json')
    throw new PermanentIngestError(
      'uploaded as a chat, but the file is not a chat export ({"messages": [{"role", "content"}, …]})',
    );

  signal.throwIfAborted();
  await progress.report('CHUNKING', 0, 1);
  const sentences = deps.sentenceEmbedder ?? embedder;
  const chunks: Chunk[] = await chunkText(
    extracted.text,
    (texts) => sentences.embed(texts, signal),
    { minTokens: options.chunkMinTokens, maxTokens: options.chunkMaxTokens, spans },
    extracted.pages,
  );

  signal.throwIfAborted();
  if (!freshUpload) {
    // old vectors may be of another model or past the new count: drop them all before the chunk
    // file is rewritten (no old pointer then reads the new file), and the seed's per-chunk objects
    await Promise.all([
      vectors.deleteByDocument(userId, documentId),
      blobs.deletePrefix(userId, documentKeys.legacyChunkPrefix(documentId)),
    ]);
  }
  // the chunk file: one PUT, overwritten in place by a retry or a reprocess
  const fileKey = documentKeys.chunks(documentId);
  const packed = packChunks(chunks);
  await blobs.put(userId, fileKey, packed.body, { contentType: 'application/x-ndjson; charset=utf-8' });
  const pointers = packed.ranges.map((r) => chunkPointer(fileKey, r.start, r.end));

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
      s3Path: pointers[from + i]!,
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
  signal.throwIfAborted();
  await deps.lexical.replaceDocument(
    userId,
    documentId,
    chunks.map(
      (c, i): LexicalChunk => ({
        documentId,
        chunkIndex: c.index,
        s3Path: pointers[i]!,
        charStart: c.charStart,
        charEnd: c.charEnd,
        page: c.page,
        text: c.text,
      }),
    ),
  );

  const updated = await documents.markProcessed(userId, documentId, run.jobId, {
    chunkCount: chunks.length,
    embeddingModel: embedder.model,
  });
  if (!updated) {
    // deleted (or reprocessed) while we ran: leave nothing of this run behind
    const still = await documents.get(userId, documentId);
    if (!still) await removeDocumentChunks(deps, userId, documentId);
    return { status: 'skipped', reason: 'document changed during ingest' };
  }
  await progress.report('DONE', chunks.length, chunks.length);
  return { status: 'processed', chunks: chunks.length };
}

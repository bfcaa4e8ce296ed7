import { createHash, randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { InvalidInputError, NotFoundError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { type BlobStore, BlobTooLargeError } from '../ports/blob-store.ts';
import type { DocumentKind, DocumentRecord } from '../ports/document.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { EventBus } from '../ports/event-bus.ts';
import type { JobQueue } from '../ports/job-queue.ts';
import type { LexicalIndex } from '../ports/lexical-index.ts';
import type { DocumentCursor, DocumentListFilter, DocumentsRepository } from '../ports/repositories.ts';
import type { VectorHit, VectorIndex } from '../ports/vector-index.ts';
import { documentKeys, memoryKeys } from '../tenant-keys.ts';
import type { ChunkTextLoader } from './chunk-text-loader.ts';
import {
  DuplicateDocumentError,
  EmptyDocumentError,
  FileTooLargeError,
  UnsupportedFileTypeError,
  type UploadRejection,
} from './documents.errors.ts';
import { displayFilename } from './filename.ts';
import { removeDocumentChunks } from './ingest/pipeline.ts';
import { MIME, sniffFormat } from './ingest/sniff.ts';

export type { DocumentCursor, DocumentListFilter as ListFilter } from '../ports/repositories.ts';

export interface UploadInput {
  filename: string;
  /** The upload as it arrives; it is streamed to S3, never buffered whole. */
  body: ReadableStream<Uint8Array> | Readable;
  size?: number;
  kind?: DocumentKind;
}

export interface DocumentsDeps {
  documents: DocumentsRepository;
  blobs: BlobStore;
  vectors: VectorIndex;
  lexical: LexicalIndex;
  /** Where each chunk's bytes are in its document's chunk file (the chunk listing's pointers). */
  chunks: Pick<ChunkTextLoader, 'pointers'>;
  embedder: Embedder;
  events: EventBus;
  queue: JobQueue;
  /** Memory follows what the documents hold: told of every delete (ingests tell it themselves). */
  memory: { scheduleUpdate(userId: string, reason: 'delete'): Promise<void> };
}

// Enough of the start of a file for file-type to see the entries that name an office format.
const HEAD_BYTES = 1024 * 1024;

/** One chunk of a document: where its text lives in the tenant's storage (its direct pointer). */
export interface ChunkRef {
  documentId: string;
  index: number;
  s3Path: string;
}

const INVALID_CURSOR = 'after is not a cursor of this list: pass the endCursor of a previous page';

function encodeDocumentCursor(doc: DocumentRecord): string {
  return Buffer.from(`${doc.uploadedAt.toISOString()}|${doc.id}`).toString('base64url');
}

function decodeDocumentCursor(cursor: string): DocumentCursor {
  const [at, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const uploadedAt = new Date(at ?? '');
  if (!id || rest.length || !isUuid(id) || Number.isNaN(uploadedAt.getTime())) {
    throw new InvalidInputError(INVALID_CURSOR);
  }
  return { uploadedAt, id };
}

function decodeChunkCursor(cursor: string): number {
  if (!/^\d{1,9}$/.test(cursor)) throw new InvalidInputError(INVALID_CURSOR);
  return Number(cursor);
}

// An upload's web ReadableStream (src/http/streamed-file.ts) read chunk by chunk: any
// implementation's reader works, where Readable.fromWeb accepts only Node's own class.
async function* readChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Buffer> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  } finally {
    reader.releaseLock();
  }
}

export const newIngestJobId = (documentId: string) => `ingest-${documentId}-${Date.now().toString(36)}`;

/** Documents of one tenant: upload, read, search, delete, reprocess, cancel (DESIGN §6, L0). */
export class DocumentsService {
  private readonly deps: DocumentsDeps;
  private readonly uploadMaxBytes: number;

  constructor(deps: DocumentsDeps, options: { uploadMaxBytes: number }) {
    this.deps = deps;
    this.uploadMaxBytes = options.uploadMaxBytes;
  }

  async upload(userId: string, upload: UploadInput): Promise<DocumentRecord | UploadRejection> {
    const { blobs } = this.deps;
    const input = { ...upload, filename: displayFilename(upload.filename) };
    const limit = this.uploadMaxBytes;
    if (input.size !== undefined && input.size > limit) return new FileTooLargeError(input.filename, limit);
    const id = randomUUID();
    const key = documentKeys.raw(id, input.filename);
    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    const source = input.body instanceof Readable ? input.body : Readable.from(readChunks(input.body));
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        if (headBytes < HEAD_BYTES) {
          head.push(chunk);
          headBytes += chunk.length;
        }
        done(null, chunk);
      },
    });
    source.on('error', (error) => tap.destroy(error));
    let bytes: number;
    try {
      ({ bytes } = await blobs.put(userId, key, source.pipe(tap), { maxBytes: limit }));
    } catch (error) {
      if (error instanceof BlobTooLargeError) return new FileTooLargeError(input.filename, limit);
      throw error;
    }
    const discard = () => blobs.delete(userId, [key]);
    if (bytes === 0) {
      await discard();
      return new EmptyDocumentError(input.filename);
    }
    const headBuffer = Buffer.concat(head);
    const format = await sniffFormat(headBuffer, bytes <= headBuffer.length, input.filename);
    if (!format) {
      await discard();
      return new UnsupportedFileTypeError(input.filename);
    }
    const contentHash = hash.digest('hex');
    const ingestJobId = newIngestJobId(id);
    const inserted = await this.deps.documents.insertIfNew({
      id,
      userId,
      filename: input.filename,
      contentType: MIME[format],
      s3Path: key,
      contentHash,
      kind: input.kind ?? (format === 'chat-json' ? 'chat' : 'document'),
      bytes,
      ingestJobId,
    });
    if (!inserted) {
      await discard();
      const existing = await this.deps.documents.findByHash(userId, contentHash);
      if (!existing) throw new Error('duplicate upload raced with a delete; retry');
      return new DuplicateDocumentError(existing);
    }
    await this.enqueueIngest(userId, id, ingestJobId);
    return inserted;
  }

  private async enqueueIngest(userId: string, documentId: string, jobId: string) {
    await this.deps.events.publish('ingest', userId, {
      documentId,
      stage: 'QUEUED',
      done: 0,
      total: 0,
      attempt: 0,
      error: null,
    });
    await this.deps.queue.enqueue('ingest-document', { userId, documentId }, { jobId });
  }

  async get(userId: string, id: string): Promise<DocumentRecord> {
    const doc = isUuid(id) ? await this.deps.documents.get(userId, id) : null;
    if (!doc) throw new NotFoundError('Document', id);
    return doc;
  }

  /** Documents by id in one query, in key order; foreign or unknown ids map to null. */
  getMany(userId: string, ids: readonly string[]): Promise<(DocumentRecord | null)[]> {
    return this.deps.documents.getMany(userId, ids);
  }

  /** Newest first, `page.limit` after a cursor this method issued; keyset pagination on (uploaded_at, id). */
  async list(
    userId: string,
    filter: DocumentListFilter,
    page: { after?: string; limit: number },
  ): Promise<{ cursor: string; node: DocumentRecord }[]> {
    const after = page.after === undefined ? undefined : decodeDocumentCursor(page.after);
    const docs = await this.deps.documents.list(userId, filter, page.limit, after);
    return docs.map((node) => ({ cursor: encodeDocumentCursor(node), node }));
  }

  /** The document's chunks after a cursor this method issued, with the pointers to their text. */
  async chunks(
    doc: DocumentRecord,
    page: { after?: string; limit: number },
  ): Promise<{ cursor: string; node: ChunkRef }[]> {
    const from = page.after === undefined ? 0 : decodeChunkCursor(page.after) + 1;
    const to = Math.min(doc.chunkCount, from + page.limit);
    if (to <= from) return [];
    const pointers = await this.deps.chunks.pointers(doc.userId, doc);
    return Array.from({ length: to - from }, (_, i) => from + i)
      .filter((index) => pointers[index])
      .map((index) => ({
        cursor: String(index),
        node: { documentId: doc.id, index, s3Path: pointers[index]! },
      }));
  }

  /** Removes the raw object, the chunk file, every vector, every lexical row and the row. */
  async delete(userId: string, id: string): Promise<{ id: string }> {
    const doc = await this.get(userId, id);
    if (doc.ingestJobId && (doc.status === 'queued' || doc.status === 'processing')) {
      await this.deps.queue.cancel('ingest', doc.ingestJobId);
    }
    // the row goes first: an ingest still finishing sees it gone and cleans up after itself
    await this.deps.documents.delete(userId, id);
    await this.purge(userId, id);
    if (doc.status === 'processed') await this.deps.memory.scheduleUpdate(userId, 'delete');
    return { id };
  }

  async purge(userId: string, documentId: string): Promise<void> {
    const { blobs } = this.deps;
    await Promise.all([
      blobs.deletePrefix(userId, documentKeys.rawPrefix(documentId)),
      blobs.delete(userId, [memoryKeys.extraction(documentId)]),
      removeDocumentChunks(this.deps, userId, documentId),
    ]);
  }

  /** Re-chunks and re-embeds; the ingest replaces the chunk file, every vector and lexical row it had. */
  async reprocess(userId: string, id: string): Promise<DocumentRecord> {
    const doc = await this.get(userId, id);
    if (doc.ingestJobId && (doc.status === 'queued' || doc.status === 'processing')) {
      await this.deps.queue.cancel('ingest', doc.ingestJobId);
    }
    const jobId = newIngestJobId(id);
    await this.deps.documents.requeue(userId, id, jobId);
    await this.enqueueIngest(userId, id, jobId);
    return this.get(userId, id);
  }

  /** Stops a queued or running ingest; the document ends failed with "ingest cancelled". */
  async cancel(userId: string, id: string): Promise<DocumentRecord> {
    const doc = await this.get(userId, id);
    if (doc.status !== 'queued' && doc.status !== 'processing') return doc;
    const removedWaiting = doc.ingestJobId
      ? (await this.deps.queue.get('ingest', doc.ingestJobId))?.state !== 'active'
      : true;
    if (doc.ingestJobId) await this.deps.queue.cancel('ingest', doc.ingestJobId);
    if (removedWaiting) {
      // no worker holds it, so no onFinalFailure will run: record the outcome here
      await this.markFailed(userId, id, doc.ingestJobId ?? null, 'ingest cancelled', 0);
    }
    return this.get(userId, id);
  }

  /**
   * Records a final failure unless a newer ingest of the document has started since, and removes
   * what that ingest wrote: a failed document is never half in memory.
   */
  async markFailed(
    userId: string,
    id: string,
    jobId: string | null,
    error: string,
    attempt: number,
  ): Promise<boolean> {
    if (!(await this.deps.documents.markFailed(userId, id, jobId, error))) return false;
    // a failed document keeps its upload, and no chunk, vector or lexical row of the attempt that failed
    await removeDocumentChunks(this.deps, userId, id);
    await this.deps.events.publish('ingest', userId, {
      documentId: id,
      stage: 'FAILED',
      done: 0,
      total: 0,
      attempt,
      error,
    });
    return true;
  }

  /** Nearest chunks of the caller's documents embedded with the current model. */
  async search(userId: string, query: string, limit: number): Promise<VectorHit[]> {
    const text = query.trim();
    if (!text) throw new InvalidInputError('query must not be empty');
    if (limit < 1 || limit > 100) throw new InvalidInputError('limit must be between 1 and 100');
    const { embedder, vectors } = this.deps;
    const [vector] = await embedder.embed([text]);
    return vectors.search(userId, vector!, { limit, embeddingModel: embedder.model });
  }
}

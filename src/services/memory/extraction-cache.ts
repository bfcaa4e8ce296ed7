import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { readChunkFile } from '../documents/chunk-file.ts';
import { BlobNotFoundError, type BlobStore } from '../ports/blob-store.ts';
import type { DocumentRecord } from '../ports/document.ts';
import {
  type DocumentExtraction,
  EXTRACTION_VERSION,
  type ExtractedEntity,
  type ExtractedRelation,
  type ExtractorSource,
} from '../ports/memory.ts';
import type { VectorIndex } from '../ports/vector-index.ts';
import { documentKeys, memoryKeys } from '../tenant-keys.ts';
import { isLexicalEmbedder, projectionName, projectVector, TERMS_PROJECTION } from './compute/projection.ts';
import { extractEntities } from './text/entities.ts';
import { countWords, firstPersonCount, termCounts } from './text/terms.ts';

// The per-document cache of L1 memory (MEMORY-TRAINING.md A7): projected vectors, term counts and
// entities, computed once when a document first reaches a build and read back by every later one,
// so a rebuild never rescans Weaviate nor re-reads chunk text. It is keyed by the ingest job that
// wrote the chunks: a reprocessed document (new job) is extracted again. Deleting the document
// deletes it (DocumentsService.purge).

export interface ExtractionDeps {
  blobs: BlobStore;
  vectors: VectorIndex;
}

const ENTITY_SLICE = 16;

export const textSha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Whether a cached extraction still describes the document's current chunks. */
export function isCurrent(cache: DocumentExtraction<unknown>, doc: DocumentRecord, seed: number): boolean {
  return (
    cache.version === EXTRACTION_VERSION &&
    cache.documentId === doc.id &&
    cache.ingestJobId === (doc.ingestJobId ?? '') &&
    cache.embeddingModel === (doc.embeddingModel ?? '') &&
    cache.chunks.length === doc.chunkCount &&
    // a seeded projection names its seed; another seed's vectors are not comparable
    (!/-s\d+$/.test(cache.projection) || cache.projection.endsWith(`-s${seed}`))
  );
}

export async function readExtraction(blobs: BlobStore, userId: string, documentId: string) {
  try {
    return JSON.parse(
      (await blobs.get(userId, memoryKeys.extraction(documentId))).toString('utf8'),
    ) as DocumentExtraction;
  } catch (error) {
    if (error instanceof BlobNotFoundError || error instanceof SyntaxError) return null;
    throw error;
  }
}

export function writeExtraction(blobs: BlobStore, userId: string, extraction: DocumentExtraction) {
  return blobs.put(userId, memoryKeys.extraction(extraction.documentId), JSON.stringify(extraction), {
    contentType: 'application/json',
  });
}

/** Chunk files read at once by readChunkTexts: bounds what one call holds in memory. */
const FILES_AT_ONCE = 64;

/**
 * Chunk texts by (document, index), in order; null where a chunk is missing. Every read of chunk
 * text a build makes goes through here. A build reads most chunks of the documents it touches,
 * so each document's chunk file is read whole, once per call (DESIGN §4); a document stored before
 * `npm run migrate:chunks` is read from the seed's object per chunk.
 */
export async function readChunkTexts(
  blobs: BlobStore,
  userId: string,
  refs: readonly { documentId: string; chunkIndex: number }[],
): Promise<(string | null)[]> {
  const out: (string | null)[] = new Array(refs.length).fill(null);
  const byDocument = new Map<string, number[]>();
  refs.forEach((r, i) => {
    const at = byDocument.get(r.documentId);
    if (at) at.push(i);
    else byDocument.set(r.documentId, [i]);
  });
  const documents = [...byDocument.keys()];
  const legacy: number[] = [];
  for (let from = 0; from < documents.length; from += FILES_AT_ONCE) {
    const ids = documents.slice(from, from + FILES_AT_ONCE);
    const bodies = await blobs.getMany(
      userId,
      ids.map((id) => documentKeys.chunks(id)),
    );
    bodies.forEach((body, j) => {
      const at = byDocument.get(ids[j]!)!;
      if (body instanceof BlobNotFoundError) {
        legacy.push(...at);
        return;
      }
      const lines = readChunkFile(body);
      for (const i of at) out[i] = lines.get(refs[i]!.chunkIndex)?.chunk.text ?? null;
    });
  }
  if (legacy.length) {
    const bodies = await blobs.getMany(
      userId,
      legacy.map((i) => documentKeys.legacyChunk(refs[i]!.documentId, refs[i]!.chunkIndex)),
    );
    bodies.forEach((b, j) => {
      out[legacy[j]!] = b instanceof BlobNotFoundError ? null : b.toString('utf8');
    });
  }
  return out;
}

/** The document's chunk texts in index order (null where a chunk object is missing). */
export function chunkTexts(blobs: BlobStore, userId: string, doc: DocumentRecord) {
  return readChunkTexts(
    blobs,
    userId,
    Array.from({ length: doc.chunkCount }, (_, chunkIndex) => ({ documentId: doc.id, chunkIndex })),
  );
}

/**
 * Extracts one document from its vectors and chunk text (offline entities; the LLM's, when
 * configured, replace them later in the build) and caches the result. Null when the document's
 * vectors or chunks are not all there (it changed under the build): the build skips it.
 */
export async function extractDocument(
  deps: ExtractionDeps,
  userId: string,
  doc: DocumentRecord,
  seed: number,
): Promise<DocumentExtraction | null> {
  const model = doc.embeddingModel ?? '';
  const [vectors, texts] = await Promise.all([
    deps.vectors.scan(userId, { documentId: doc.id, embeddingModel: model }),
    chunkTexts(deps.blobs, userId, doc),
  ]);
  if (vectors.length !== doc.chunkCount || texts.some((t) => t === null)) return null;
  const inputDims = vectors[0]?.vector.length ?? 0;
  const lexical = isLexicalEmbedder(model);
  const chunks = vectors.map((v) => {
    const text = texts[v.chunkIndex] ?? '';
    const terms = termCounts(text);
    return {
      index: v.chunkIndex,
      textSha: textSha(text),
      // the lexical sketch needs the whole corpus's weights: each build makes it (memory-build.ts)
      projected: lexical ? [] : projectVector(v.vector, model, seed),
      terms,
      firstPerson: firstPersonCount(text),
      words: countWords(text),
    };
  });
  // compromise costs ~2 ms a chunk: a few chunks at a time, yielding between, keeps the worker's
  // event loop serving its other jobs (mergeEntities joins what the slices found)
  const entities: ExtractedEntity[] = [];
  const relations: ExtractedRelation[] = [];
  for (let from = 0; from < chunks.length; from += ENTITY_SLICE) {
    const found = extractEntities(
      chunks.slice(from, from + ENTITY_SLICE).map((c) => ({ index: c.index, text: texts[c.index]! })),
    );
    entities.push(...found.entities);
    relations.push(...found.relations);
    await yieldToLoop();
  }
  const extraction: DocumentExtraction = {
    version: EXTRACTION_VERSION,
    documentId: doc.id,
    ingestJobId: doc.ingestJobId ?? '',
    embeddingModel: model,
    projection: lexical ? TERMS_PROJECTION : projectionName(model, inputDims, seed),
    extractor: 'compromise' satisfies ExtractorSource,
    kind: doc.kind,
    createdAt: doc.uploadedAt.toISOString(),
    chunks,
    entities,
    relations,
  };
  await writeExtraction(deps.blobs, userId, extraction);
  return extraction;
}

import { expect } from 'vitest';
import type { Services } from '../../src/container.ts';
import { parseChunkLine, splitChunkFile } from '../../src/services/documents/chunk-file.ts';
import { BlobNotFoundError } from '../../src/services/ports/blob-store.ts';
import { documentKeys, parseChunkPointer } from '../../src/services/tenant-keys.ts';

/** Every object key of the document's chunks: its chunk file and any per-chunk object of the seed's layout. */
export async function chunkObjectsOf(services: Services, userId: string, documentId: string) {
  // `chunks/{id}` without the slash lists both `chunks/{id}.jsonl` and `chunks/{id}/…`
  return (await services.blobs.list(userId, `chunks/${documentId}`)).sort();
}

/** The document's pointers as the vector index holds them, by chunk index (each vector found by itself). */
export async function vectorPointersOf(
  services: Services,
  userId: string,
  documentId: string,
  model: string,
) {
  const scanned = await services.vectors.scan(userId, { documentId, embeddingModel: model });
  const pointers = new Map<number, string>();
  for (const v of scanned) {
    const hits = await services.vectors.search(userId, v.vector, { limit: 5, embeddingModel: model });
    const self = hits.find((h) => h.documentId === documentId && h.chunkIndex === v.chunkIndex);
    if (self) pointers.set(v.chunkIndex, self.s3Path);
  }
  return pointers;
}

/**
 * The document is stored exactly once in the packed layout: one chunk file of `chunkCount` lines
 * (indexes 0…n−1, each once), no per-chunk objects, `chunkCount` vectors and lexical rows.
 */
export async function expectPackedChunks(
  services: Services,
  userId: string,
  documentId: string,
  chunkCount: number,
) {
  expect(await chunkObjectsOf(services, userId, documentId)).toEqual([documentKeys.chunks(documentId)]);
  const body = await services.blobs.get(userId, documentKeys.chunks(documentId));
  const lines = splitChunkFile(body).map((l) => parseChunkLine(l.bytes));
  expect(lines.map((l) => l?.index)).toEqual(Array.from({ length: chunkCount }, (_, i) => i));
  expect(await services.vectors.countByDocument(userId, documentId)).toBe(chunkCount);
  expect(await services.lexical.countByDocument(userId, documentId)).toBe(chunkCount);
}

/** Reads each pointer's bytes: exactly one JSON line, the chunk of that index. */
export async function readPointers(
  services: Services,
  userId: string,
  pointers: ReadonlyMap<number, string>,
) {
  const entries = [...pointers];
  const ranges = entries.map(([, p]) => {
    const range = parseChunkPointer(p);
    if (!range) throw new Error(`not a chunk pointer: ${p}`);
    return range;
  });
  const bodies = await services.blobs.getRanges(userId, ranges);
  return entries.map(([index, pointer], i) => {
    const body = bodies[i]!;
    return { index, pointer, chunk: body instanceof BlobNotFoundError ? null : parseChunkLine(body) };
  });
}

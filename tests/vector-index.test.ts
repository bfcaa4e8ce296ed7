import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createVectorIndex } from '../src/container.ts';
import type { ChunkVector, VectorIndex } from '../src/services/ports/vector-index.ts';
import { testConfig } from './helpers/harness.ts';

const dims = 8;
function unit(i: number): number[] {
  const v = Array.from({ length: dims }, (_, k) => (k === i % dims ? 1 : 0.01 * k));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
function chunk(documentId: string, chunkIndex: number, vector: number[], model = 'test-model'): ChunkVector {
  return {
    documentId,
    chunkIndex,
    s3Path: `chunks/${documentId}/chunk_${chunkIndex}.txt`,
    filename: 'a.txt',
    contentType: 'text/plain',
    timestamp: new Date(0).toISOString(),
    embeddingModel: model,
    charStart: chunkIndex * 10,
    charEnd: chunkIndex * 10 + 9,
    page: chunkIndex === 0 ? 1 : null,
    vector,
  };
}

const indexes: VectorIndex[] = [];
afterAll(async () => {
  for (const i of indexes) await i.close();
});

const backends: [string, () => Promise<VectorIndex>][] = [
  ['weaviate', () => createVectorIndex(testConfig({ VECTOR_BACKEND: 'weaviate' }))],
  [
    'embedded',
    async () =>
      createVectorIndex(
        testConfig({
          VECTOR_BACKEND: 'embedded',
          EMBEDDED_VECTOR_DIR: await mkdtemp(path.join(tmpdir(), 'twin-vectors-')),
        }),
      ),
  ],
];

describe.each(backends)('vector index: %s', (backend, make) => {
  it('keeps each tenant’s vectors to itself, searches by vector and deletes by document', async () => {
    const index = await make();
    indexes.push(index);
    expect(index.backend).toBe(backend);
    const alice = `u-${randomUUID()}`;
    const bob = `u-${randomUUID()}`;
    const docA = randomUUID();
    const docB = randomUUID();
    await index.ensureTenant(alice);
    await index.upsert(alice, [chunk(docA, 0, unit(0)), chunk(docA, 1, unit(1)), chunk(docB, 0, unit(2))]);
    // a retried write of the same chunk overwrites instead of duplicating
    await index.upsert(alice, [chunk(docA, 1, unit(1))]);

    const hits = await index.search(alice, unit(1), { limit: 3, embeddingModel: 'test-model' });
    expect(hits).toHaveLength(3);
    expect(hits[0]).toMatchObject({
      documentId: docA,
      chunkIndex: 1,
      charStart: 10,
      charEnd: 19,
      page: null,
    });
    expect(hits[0]!.score).toBeGreaterThan(0.99);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(await index.countByDocument(alice, docA)).toBe(2);

    expect(await index.search(bob, unit(1), { limit: 3, embeddingModel: 'test-model' })).toEqual([]);
    expect(await index.search(alice, unit(1), { limit: 3, embeddingModel: 'other-model' })).toEqual([]);

    expect(await index.deleteByDocument(alice, docA)).toBe(2);
    const after = await index.search(alice, unit(1), { limit: 3, embeddingModel: 'test-model' });
    expect(after.map((h) => h.documentId)).toEqual([docB]);
    expect(await index.countByDocument(alice, docA)).toBe(0);
  });
});

import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createVectorIndex } from '../src/container.ts';
import { LocalHashEmbedder } from '../src/services/adapters/local/embedder.local.ts';
import { OpenAIEmbedder } from '../src/services/adapters/openai/embedder.openai.ts';
import { connectWeaviate } from '../src/services/adapters/weaviate/vector-index.weaviate.ts';
import type { Embedder } from '../src/services/ports/embedder.ts';
import {
  type ChunkVector,
  collectionName,
  tenantName,
  type VectorIndex,
} from '../src/services/ports/vector-index.ts';
import { testConfig } from './helpers/harness.ts';

const dims = 8;
const MODEL = 'vector-index-test@8';
function unit(i: number, n = dims): number[] {
  const v = Array.from({ length: n }, (_, k) => (k === i % n ? 1 : 0.01 * k));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}
function chunk(documentId: string, chunkIndex: number, vector: number[], model = MODEL): ChunkVector {
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

describe('embedding model tags', () => {
  it('carry the size, so one model at two sizes never shares a tag', () => {
    expect(new LocalHashEmbedder().model).toBe('local-hash-v1@384');
    expect(new LocalHashEmbedder(64).model).toBe('local-hash-v1@64');
    const at = (dimensions?: number) =>
      new OpenAIEmbedder({ model: 'text-embedding-3-small', dimensions, batchSize: 8, maxRetries: 0 }).model;
    expect(at()).toBe('text-embedding-3-small@1536');
    expect(at(512)).toBe('text-embedding-3-small@512');
  });

  it('name one collection per model and size; the default model keeps the seed’s TenantChunk', () => {
    const naming = { prefix: 'TenantChunk', defaultModel: 'local-hash-v1@384' };
    const names = [
      'local-hash-v1@384',
      'local-hash-v1@64',
      'text-embedding-3-small@1536',
      'text-embedding-3-small@512',
    ].map((m) => collectionName(naming, m));
    expect(names).toEqual([
      'TenantChunk',
      'TenantChunk_local_hash_v1_64',
      'TenantChunk_text_embedding_3_small_1536',
      'TenantChunk_text_embedding_3_small_512',
    ]);
    for (const n of names) expect(n).toMatch(/^[A-Z][_0-9A-Za-z]{0,254}$/);
    expect(collectionName(naming, `m/${'x'.repeat(400)}@8`)).toHaveLength(200);
  });
});

describe.each(backends)('vector index: %s', (backend, make) => {
  it('keeps each tenant’s vectors to itself, searches by vector and deletes by document', async () => {
    const index = await make();
    indexes.push(index);
    expect(index.backend).toBe(backend);
    const alice = `u-${randomUUID()}`;
    const bob = `u-${randomUUID()}`;
    const docA = randomUUID();
    const docB = randomUUID();
    await index.ensureTenant(alice, MODEL);
    await index.upsert(alice, [chunk(docA, 0, unit(0)), chunk(docA, 1, unit(1)), chunk(docB, 0, unit(2))]);
    // a retried write of the same chunk overwrites instead of duplicating
    await index.upsert(alice, [chunk(docA, 1, unit(1))]);

    const hits = await index.search(alice, unit(1), { limit: 3, embeddingModel: MODEL });
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
    // the document's own vectors, in chunk order, for L1 memory; nobody else's
    const scanned = await index.scan(alice, { documentId: docA, embeddingModel: MODEL });
    expect(scanned.map((v) => v.chunkIndex)).toEqual([0, 1]);
    for (const [i, x] of unit(1).entries()) expect(scanned[1]!.vector[i]).toBeCloseTo(x, 5);
    expect(await index.scan(bob, { documentId: docA, embeddingModel: MODEL })).toEqual([]);
    expect(await index.scan(alice, { documentId: docA, embeddingModel: 'other-model@8' })).toEqual([]);

    expect(await index.search(bob, unit(1), { limit: 3, embeddingModel: MODEL })).toEqual([]);
    expect(await index.search(alice, unit(1), { limit: 3, embeddingModel: 'other-model@8' })).toEqual([]);

    expect(await index.deleteByDocument(alice, docA)).toBe(2);
    const after = await index.search(alice, unit(1), { limit: 3, embeddingModel: MODEL });
    expect(after.map((h) => h.documentId)).toEqual([docB]);
    expect(await index.countByDocument(alice, docA)).toBe(0);
  });

  it('keeps two embedders of one user apart: a search under one never returns the other’s hits', async () => {
    const index = await make();
    indexes.push(index);
    const user = `u-${randomUUID()}`;
    // one model at two sizes (the tag once left the size out), and two models at one size
    const embedders: Embedder[] = [new LocalHashEmbedder(16), new LocalHashEmbedder(32)];
    const sameSize = ['vector-index-test-a@16', 'vector-index-test-b@16'];
    const text = 'The lighthouse keeper logged every passing trawler in a leather notebook.';
    const docs = new Map<string, string>();
    for (const e of embedders) {
      const [vector] = await e.embed([text]);
      const doc = randomUUID();
      docs.set(e.model, doc);
      await index.upsert(user, [chunk(doc, 0, vector!, e.model)]);
    }
    const [v16] = await embedders[0]!.embed([text]);
    for (const model of sameSize) {
      const doc = randomUUID();
      docs.set(model, doc);
      await index.upsert(user, [chunk(doc, 0, v16!, model)]);
    }

    for (const [model, doc] of docs) {
      const query = model.endsWith('@32') ? (await embedders[1]!.embed([text]))[0]! : v16!;
      const hits = await index.search(user, query, { limit: 10, embeddingModel: model });
      expect({ model, hits: hits.map((h) => [h.documentId, h.embeddingModel]) }).toEqual({
        model,
        hits: [[doc, model]],
      });
      expect(hits[0]!.score).toBeGreaterThan(0.99);
      expect(await index.countByDocument(user, doc, model)).toBe(1);
      for (const other of docs.keys())
        if (other !== model) expect(await index.countByDocument(user, doc, other)).toBe(0);
    }

    // deleting a document reaches every model's collection
    const doc16 = docs.get('local-hash-v1@16')!;
    await index.upsert(user, [chunk(doc16, 0, (await embedders[1]!.embed([text]))[0]!, 'local-hash-v1@32')]);
    expect(await index.countByDocument(user, doc16)).toBe(2);
    expect(await index.deleteByDocument(user, doc16)).toBe(2);
    expect(await index.countByDocument(user, doc16)).toBe(0);
  });
});

describe('vector index: weaviate collections', () => {
  it('are one per model and size, multi-tenant, and the default model’s is the configured collection', async () => {
    const config = testConfig({ VECTOR_BACKEND: 'weaviate' });
    const index = await createVectorIndex(config);
    indexes.push(index);
    const user = `u-${randomUUID()}`;
    const naming = { prefix: config.WEAVIATE_COLLECTION, defaultModel: config.WEAVIATE_COLLECTION_MODEL };
    const models = [config.WEAVIATE_COLLECTION_MODEL, 'local-hash-v1@16', 'local-hash-v1@32'];
    for (const model of models) await index.ensureTenant(user, model);

    const client = await connectWeaviate({ url: config.WEAVIATE_URL, grpcUrl: config.WEAVIATE_GRPC_URL });
    try {
      const names = models.map((m) => collectionName(naming, m));
      expect(new Set(names).size).toBe(models.length);
      expect(names[0]).toBe(config.WEAVIATE_COLLECTION);
      for (const name of names) {
        const collection = client.collections.use(name);
        const cfg = await collection.config.get();
        expect({ name, multiTenancy: cfg.multiTenancy.enabled }).toEqual({ name, multiTenancy: true });
        expect(await collection.tenants.getByName(tenantName(user))).toBeTruthy();
      }
    } finally {
      await client.close();
    }
  });
});

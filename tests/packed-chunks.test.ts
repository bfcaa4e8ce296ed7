import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelIngestDocument,
  DeleteDocumentDocument,
  ReprocessDocumentDocument,
} from '../src/sdk/generated/graphql.ts';
import { migrateChunkLayout } from '../src/services/documents/chunk-migration.ts';
import { documentKeys } from '../src/services/tenant-keys.ts';
import { member } from './helpers/client.ts';
import type { TestApp } from './helpers/harness.ts';
import { startTestApp } from './helpers/harness.ts';
import { getDocument, holdIngestAt, settled, uploadDocument } from './helpers/ingest.ts';
import {
  chunkObjectsOf,
  expectPackedChunks,
  readPointers,
  vectorPointersOf,
} from './helpers/packed-chunks.ts';

// A document's chunks in one object `chunks/{id}.jsonl`, each chunk read directly by its pointer
// (DESIGN §4), and every way a document's ingest can end leaving exactly one copy of its chunks:
// one chunk file, one vector and one lexical row per chunk, or nothing at all.

let app: TestApp;
beforeAll(async () => {
  // the storage path is what is tested: the hash embedder keeps the suite fast
  app = await startTestApp({
    withWorkers: true,
    env: { EMBEDDER: 'local-hash', CHUNK_MIN_TOKENS: '10', CHUNK_MAX_TOKENS: '60' },
  });
});
afterAll(async () => {
  await app?.close();
});

// multi-byte text, so a byte range and a char range differ
const text = [
  'Zoë rowed from Kraków to Gdańsk — a crossing of 1:52:40 in the fog, she wrote.',
  'The copper lantern of the harbour at Hel swung all night; the keeper’s log says “no ships”.',
  'In spring the orchard behind the mill flowered early and the plums were lost to frost.',
  'Her brother repairs clocks in Braga and keeps a notebook of every escapement he fixed.',
  'Glacier walks on Vatnajökull start at dawn; the guide counts crampons twice.',
  'The violin workshop in Cremona reopened after the flood, with seven new apprentices.',
]
  .map((p, i) => `${p} ${p.replace(/\.$/, '')} again, paragraph ${i}.`)
  .join('\n\n');

const rowOf = async (userId: string, id: string) => (await app.services.db.documents.get(userId, id))!;

async function lexicalPointers(userId: string, documentId: string) {
  const rows = await app.services.orm.em
    .getConnection()
    .execute<{ chunk_index: number; s3_path: string }[]>(
      'SELECT chunk_index, s3_path FROM chunk_terms WHERE user_id = ? AND document_id = ? ORDER BY chunk_index',
      [userId, documentId],
    );
  return new Map(rows.map((r) => [r.chunk_index, r.s3_path]));
}

/** Every pointer (Weaviate's, chunk_terms', the chunk listing's) reads exactly its own chunk. */
async function expectPointersRead(userId: string, documentId: string, source: string) {
  const row = await rowOf(userId, documentId);
  const fromVectors = await vectorPointersOf(app.services, userId, documentId, row.embeddingModel!);
  expect([...fromVectors.keys()].sort((a, b) => a - b)).toEqual(
    Array.from({ length: row.chunkCount }, (_, i) => i),
  );
  expect(await lexicalPointers(userId, documentId)).toEqual(
    new Map([...fromVectors].sort((a, b) => a[0] - b[0])),
  );
  for (const pointer of fromVectors.values()) expect(pointer).toMatch(/^chunks\/[0-9a-f-]+\.jsonl#\d+-\d+$/);
  const read = await readPointers(app.services, userId, fromVectors);
  for (const { index, pointer, chunk } of read) {
    expect(chunk?.index).toBe(index);
    // the chunk's offsets cite the extracted text (here the file) exactly
    expect(source.slice(chunk!.charStart, chunk!.charEnd)).toBe(chunk!.text);
    expect(await app.services.chunks.load(userId, pointer)).toBe(chunk!.text);
    expect(await app.services.chunks.loadByIndex(userId, documentId, index)).toBe(chunk!.text);
  }
  // the chunk listing gives the same pointers and texts
  const doc = await getDocument(app.client(userId), documentId, 200);
  if (doc.__typename !== 'Document') throw new Error(doc.__typename);
  const listed = member(doc.chunks, 'DocumentChunksConnection').edges.map((e) => e.node);
  expect(listed.map((c) => [c.index, c.s3Path])).toEqual([...fromVectors].sort((a, b) => a[0] - b[0]));
  expect(listed.map((c) => c.text)).toEqual(read.sort((a, b) => a.index - b.index).map((r) => r.chunk!.text));
}

async function expectNothingLeft(userId: string, documentId: string) {
  expect(await chunkObjectsOf(app.services, userId, documentId)).toEqual([]);
  expect(await app.services.vectors.countByDocument(userId, documentId)).toBe(0);
  expect(await app.services.lexical.countByDocument(userId, documentId)).toBe(0);
}

describe('packed chunks', () => {
  it('stores a document as one chunk file, and every pointer reads exactly its own chunk', async () => {
    const client = app.client();
    const doc = await uploadDocument(client, 'crossings.txt', text);
    const done = await settled(client, doc.id);
    expect(done.status).toBe('PROCESSED');
    expect(done.chunkCount).toBeGreaterThan(3);
    await expectPackedChunks(app.services, client.userId, doc.id, done.chunkCount);
    // the tenant's only chunk object
    expect(await app.services.blobs.list(client.userId, 'chunks/')).toEqual([documentKeys.chunks(doc.id)]);
    await expectPointersRead(client.userId, doc.id, text);
  });

  it('reprocess, and an ingest retried after its worker died mid-write, leave one copy of each chunk', async () => {
    const client = app.client();
    const { services } = app;
    const doc = await uploadDocument(client, 'crossings.txt', text);
    const { chunkCount } = await settled(client, doc.id);

    await client.request(ReprocessDocumentDocument, { id: doc.id });
    expect((await settled(client, doc.id)).chunkCount).toBe(chunkCount);
    await expectPackedChunks(services, client.userId, doc.id, chunkCount);

    // a worker dies after the chunk file and half the vectors of a batch: no cleanup ran
    const jobId = `crash-${randomUUID()}`;
    await services.db.documents.requeue(client.userId, doc.id, jobId);
    const upsert = services.vectors.upsert.bind(services.vectors);
    services.vectors.upsert = async (userId, points) => {
      await upsert(userId, points.slice(0, Math.ceil(points.length / 2)));
      throw new Error('worker killed');
    };
    const run = (attempt: number) =>
      services.ingest({
        userId: client.userId,
        documentId: doc.id,
        jobId,
        attempt,
        signal: new AbortController().signal,
      });
    try {
      await expect(run(1)).rejects.toThrow('worker killed');
    } finally {
      services.vectors.upsert = upsert;
    }
    // the retry (the stalled job handed to the next worker) finishes it once
    expect(await run(2)).toEqual({ status: 'processed', chunks: chunkCount });
    await expectPackedChunks(services, client.userId, doc.id, chunkCount);
    await expectPointersRead(client.userId, doc.id, text);
  });

  it('delete, a cancel mid-ingest and a delete mid-ingest leave no chunk file, vector or lexical row', async () => {
    const client = app.client();
    const doc = await uploadDocument(client, 'crossings.txt', text);
    await settled(client, doc.id);
    const [pointer] = await app.services.chunks.pointers(client.userId, await rowOf(client.userId, doc.id));
    expect(await app.services.chunks.load(client.userId, pointer!)).toContain('Zoë');
    await client.request(DeleteDocumentDocument, { id: doc.id });
    await expectNothingLeft(client.userId, doc.id);
    expect(await app.services.chunks.load(client.userId, pointer!)).toBeNull();

    // the chunk file is written before the first embedding batch, where the ingest is held
    for (const end of ['cancel', 'delete'] as const) {
      const hold = holdIngestAt(app.services, 'EMBEDDING');
      try {
        const held = await uploadDocument(client, `held-${end}.txt`, `${text}\n\n${end}`);
        expect(await hold.reached).toBe(held.id);
        expect(await chunkObjectsOf(app.services, client.userId, held.id)).toEqual([
          documentKeys.chunks(held.id),
        ]);
        if (end === 'cancel') {
          await client.request(CancelIngestDocument, { id: held.id });
          expect(await settled(client, held.id)).toMatchObject({
            status: 'FAILED',
            error: 'ingest cancelled',
          });
        } else {
          await client.request(DeleteDocumentDocument, { id: held.id });
          // the aborted run's failure handling finds no row and records nothing
          await new Promise((r) => setTimeout(r, 500));
        }
        await expectNothingLeft(client.userId, held.id);
      } finally {
        hold.restore();
      }
    }
  });

  it('migrate:chunks re-ingests a document of the per-chunk layout, which stays readable until then', async () => {
    const { services } = app;
    const userId = app.newUserId();
    const client = app.client(userId);
    // a document as the seed stored it: an object per chunk, pointers to those, no lexical rows
    const documentId = randomUUID();
    const jobId = `seed-${documentId}`;
    await services.users.ensure(userId);
    await services.db.documents.insertIfNew({
      id: documentId,
      userId,
      filename: 'old.txt',
      contentType: 'text/plain',
      s3Path: documentKeys.raw(documentId, 'old.txt'),
      contentHash: documentId,
      kind: 'document',
      bytes: Buffer.byteLength(text),
      ingestJobId: jobId,
    });
    await services.blobs.put(userId, documentKeys.raw(documentId, 'old.txt'), text);
    const olds = ['Zoë rowed from Kraków.', 'The lantern swung all night.'];
    await Promise.all(
      olds.map((t, i) => services.blobs.put(userId, documentKeys.legacyChunk(documentId, i), t)),
    );
    const vectors = await services.embedder.embed(olds);
    await services.vectors.upsert(
      userId,
      olds.map((t, i) => ({
        documentId,
        chunkIndex: i,
        s3Path: documentKeys.legacyChunk(documentId, i),
        filename: 'old.txt',
        contentType: 'text/plain',
        timestamp: new Date().toISOString(),
        embeddingModel: services.embedder.model,
        charStart: 0,
        charEnd: t.length,
        page: null,
        vector: vectors[i]!,
      })),
    );
    await services.db.documents.markProcessed(userId, documentId, jobId, {
      chunkCount: olds.length,
      embeddingModel: services.embedder.model,
    });
    // readable as before: by the old key, by index, and in the chunk listing
    expect(await services.chunks.load(userId, documentKeys.legacyChunk(documentId, 1))).toBe(olds[1]);
    expect(await services.chunks.loadByIndex(userId, documentId, 0)).toBe(olds[0]);
    const before = await getDocument(client, documentId);
    if (before.__typename !== 'Document') throw new Error(before.__typename);
    expect(member(before.chunks, 'DocumentChunksConnection').edges.map((e) => e.node.text)).toEqual(olds);

    const deps = {
      documents: services.db.documents,
      blobs: services.blobs,
      lexical: services.lexical,
      reprocess: (u: string, id: string) => services.documents.reprocess(u, id),
    };
    // another user's packed document is not touched
    const other = app.client();
    const packed = await uploadDocument(other, 'packed.txt', text);
    await settled(other, packed.id);
    expect(await migrateChunkLayout(deps, { userId: other.userId })).toMatchObject({
      scanned: 1,
      legacy: 0,
      queued: 0,
    });

    expect(await migrateChunkLayout(deps, { userId, dryRun: true })).toMatchObject({
      scanned: 1,
      legacy: 1,
      queued: 0,
    });
    expect(await migrateChunkLayout(deps, { userId })).toMatchObject({ scanned: 1, legacy: 1, queued: 1 });
    const done = await settled(client, documentId);
    expect(done.status).toBe('PROCESSED');
    await expectPackedChunks(services, userId, documentId, done.chunkCount);
    await expectPointersRead(userId, documentId, text);
    // a second run finds nothing left to do
    expect(await migrateChunkLayout(deps, { userId })).toMatchObject({ scanned: 1, legacy: 0, queued: 0 });
  });
});

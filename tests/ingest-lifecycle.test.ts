import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelIngestDocument,
  DeleteDocumentDocument,
  DocumentsDocument,
  IngestProgressDocument,
  ReprocessDocumentDocument,
  SearchDocument,
} from '../src/sdk/generated/graphql.ts';
import { member } from './helpers/client.ts';
import type { TestApp } from './helpers/harness.ts';
import { startTestApp } from './helpers/harness.ts';
import { getDocument, holdIngestAt, settled, uploadDocument, uploadFile } from './helpers/ingest.ts';
import * as fx from './helpers/ingest-fixtures.ts';
import { chunkObjectsOf, expectPackedChunks } from './helpers/packed-chunks.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ withWorkers: true, env: { UPLOAD_MAX_BYTES: '200000' } });
});
afterAll(async () => {
  await app?.close();
});

const topic = (word: string, n: number) =>
  Array.from(
    { length: n },
    (_, i) => `Paragraph ${i} explains how the ${word} matters to the ${word} collectors of the valley.`,
  ).join('\n\n');

async function objectsOf(userId: string, documentId: string) {
  const { blobs } = app.services;
  return [
    ...(await blobs.list(userId, `raw/${documentId}/`)),
    ...(await chunkObjectsOf(app.services, userId, documentId)),
  ];
}

describe('upload validation', () => {
  it('rejects unsupported, empty and oversize files and deduplicates identical bytes', async () => {
    const client = app.client();
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const unsupported = await uploadFile(client, 'looks-like.txt', png);
    expect(unsupported).toMatchObject({ __typename: 'UnsupportedFileType', code: 'UNSUPPORTED_FILE_TYPE' });
    expect(await uploadFile(client, 'empty.txt', '')).toMatchObject({
      __typename: 'EmptyDocument',
      code: 'EMPTY_DOCUMENT',
    });
    const big = await uploadFile(client, 'big.txt', 'a'.repeat(200_001));
    expect(big).toMatchObject({ __typename: 'FileTooLarge', code: 'FILE_TOO_LARGE', limitBytes: 200000 });

    const first = await uploadDocument(client, 'a.txt', topic('amber', 3));
    const again = await uploadFile(client, 'renamed.txt', topic('amber', 3));
    expect(again.__typename).toBe('DuplicateDocument');
    if (again.__typename !== 'DuplicateDocument') throw new Error('unreachable');
    expect(again.document.id).toBe(first.id);
    // nothing of the rejected uploads is stored, only the one document
    const list = await client.request(DocumentsDocument, { first: 10 });
    expect(member(list.data!.documents, 'QueryDocumentsConnection').edges.map((e) => e.node.id)).toEqual([
      first.id,
    ]);
    expect(await app.services.blobs.list(client.userId, 'raw/')).toHaveLength(1);
    // another user uploading the same bytes gets their own document
    const other = await uploadDocument(app.client(), 'a.txt', topic('amber', 3));
    expect(other.id).not.toBe(first.id);
  });

  it('fails corrupt, image-only and zip-bomb files once, with a readable error', async () => {
    const client = app.client();
    const events = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    const cases: [string, Uint8Array, RegExp][] = [
      ['broken.pdf', fx.corruptPdf(), /PDF cannot be read/],
      ['scan.pdf', await fx.imageOnlyPdf(), /no text layer/],
      ['bomb.docx', fx.zipBombDocx(150), /zip bomb/],
    ];
    for (const [name, bytes, error] of cases) {
      const doc = await uploadDocument(client, name, bytes);
      const done = await settled(client, doc.id);
      expect({ name, status: done.status, error: done.error }).toMatchObject({ name, status: 'FAILED' });
      expect(done.error).toMatch(error);
      const feed = await events.until(
        (e) => e.data?.ingestProgress.documentId === doc.id && e.data.ingestProgress.stage === 'FAILED',
      );
      const mine = feed.map((e) => e.data!.ingestProgress).filter((e) => e.documentId === doc.id);
      // permanent: one attempt only
      expect(new Set(mine.map((e) => e.attempt).filter((a) => a > 0))).toEqual(new Set([1]));
      expect(mine.at(-1)!.error).toMatch(error);
    }
    events.close();
  });
});

describe('documents over time', () => {
  it('lists with cursor pagination and filters', async () => {
    const client = app.client();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await uploadDocument(client, `n${i}.txt`, topic(`word${i}`, 2))).id);
    await Promise.all(ids.map((id) => settled(client, id)));
    const page1 = await client.request(DocumentsDocument, { first: 3 });
    const p1 = member(page1.data!.documents, 'QueryDocumentsConnection');
    expect(p1.edges).toHaveLength(3);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const page2 = await client.request(DocumentsDocument, { first: 3, after: p1.pageInfo.endCursor });
    const all = [...p1.edges, ...member(page2.data!.documents, 'QueryDocumentsConnection').edges].map(
      (e) => e.node.id,
    );
    expect(all).toEqual([...ids].reverse());
    const failed = await client.request(DocumentsDocument, { first: 10, status: 'FAILED' });
    expect(member(failed.data!.documents, 'QueryDocumentsConnection').edges).toEqual([]);
    const chats = await client.request(DocumentsDocument, { first: 10, kind: 'CHAT' });
    expect(member(chats.data!.documents, 'QueryDocumentsConnection').edges).toEqual([]);
  });

  it('delete leaves no raw object, chunk file, vector, lexical row or row', async () => {
    const client = app.client();
    const doc = await uploadDocument(client, 'delete-me.txt', topic('obsidian', 40));
    const done = await settled(client, doc.id);
    expect(done.chunkCount).toBeGreaterThan(1);
    // the upload and one chunk file
    expect((await objectsOf(client.userId, doc.id)).length).toBe(2);
    await expectPackedChunks(app.services, client.userId, doc.id, done.chunkCount);

    const res = await client.request(DeleteDocumentDocument, { id: doc.id });
    expect(res.data!.deleteDocument).toEqual({ __typename: 'DeletedDocument', id: doc.id });
    expect(await objectsOf(client.userId, doc.id)).toEqual([]);
    expect(await app.services.vectors.countByDocument(client.userId, doc.id)).toBe(0);
    expect(await app.services.lexical.countByDocument(client.userId, doc.id)).toBe(0);
    expect(await getDocument(client, doc.id)).toMatchObject({ __typename: 'NotFound' });
    const hits = await client.request(SearchDocument, { query: 'obsidian collectors', limit: 5 });
    expect(hits.data!.search).toEqual({ __typename: 'SearchResults', data: [] });
    expect(
      (await client.request(DeleteDocumentDocument, { id: doc.id })).data!.deleteDocument.__typename,
    ).toBe('NotFound');
  });

  it('cancels a running ingest mid-way: the document fails "ingest cancelled" and keeps no chunks or vectors', async () => {
    const client = app.client();
    const events = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    // the ingest stops at its first embedding batch (chunk objects written, no vector yet) and
    // can end only by being cancelled: a cancel that does not reach it fails the test
    const hold = holdIngestAt(app.services, 'EMBEDDING');
    try {
      const doc = await uploadDocument(client, 'long.txt', topic('heron', 30));
      expect(await hold.reached).toBe(doc.id);
      const row = await app.services.db.documents.get(client.userId, doc.id);
      expect(await app.services.queue.get('ingest', row!.ingestJobId!)).toMatchObject({ state: 'active' });

      const res = await client.request(CancelIngestDocument, { id: doc.id });
      expect(res.data!.cancelIngest.__typename).toBe('Document');
      const done = await settled(client, doc.id);
      hold.restore(); // the searches below embed their queries
      expect(done).toMatchObject({ status: 'FAILED', error: 'ingest cancelled', chunkCount: 0 });
      const tail = await events.until(
        (e) => e.data?.ingestProgress.documentId === doc.id && e.data.ingestProgress.stage === 'FAILED',
      );
      expect(tail.at(-1)!.data!.ingestProgress.error).toBe('ingest cancelled');
      expect(await app.services.vectors.countByDocument(client.userId, doc.id)).toBe(0);
      expect(await app.services.lexical.countByDocument(client.userId, doc.id)).toBe(0);
      // the chunk file it had written before the cancel is gone; the upload stays
      expect(await chunkObjectsOf(app.services, client.userId, doc.id)).toEqual([]);
      expect(await app.services.blobs.list(client.userId, `raw/${doc.id}/`)).toHaveLength(1);
      const hits = await client.request(SearchDocument, { query: 'heron collectors', limit: 5 });
      expect(hits.data!.search).toEqual({ __typename: 'SearchResults', data: [] });
    } finally {
      hold.restore();
      events.close();
    }
  });

  it('cancels a queued ingest when no worker has picked it up', async () => {
    const noWorkers = await startTestApp({ withWorkers: false });
    try {
      const client = noWorkers.client();
      const doc = await uploadDocument(client, 'waiting.txt', topic('basalt', 3));
      // the job the row names (its id carries a timestamp) is waiting until the cancel removes it
      const row = await noWorkers.services.db.documents.get(client.userId, doc.id);
      const jobId = row!.ingestJobId!;
      expect(await noWorkers.services.queue.get('ingest', jobId)).not.toBeNull();
      const res = await client.request(CancelIngestDocument, { id: doc.id });
      expect(res.data!.cancelIngest).toMatchObject({
        __typename: 'Document',
        status: 'FAILED',
        error: 'ingest cancelled',
      });
      expect(await noWorkers.services.queue.get('ingest', jobId)).toBeNull();
    } finally {
      await noWorkers.close();
    }
  });
});

describe('reprocess', () => {
  it('after the chunker changes leaves exactly the new chunks and vectors', async () => {
    const client = app.client();
    const text = `${topic('granite', 12)}\n\n${topic('lichen', 12)}`;
    const doc = await uploadDocument(client, 'rocks.txt', text);
    const before = await settled(client, doc.id);
    // a second deployment with a smaller maximum chunk size takes over the same queue
    await app.close();
    app = await startTestApp({
      withWorkers: true,
      env: {
        QUEUE_PREFIX: app.config.QUEUE_PREFIX,
        EVENT_PREFIX: app.config.EVENT_PREFIX,
        CHUNK_MIN_TOKENS: '5',
        CHUNK_MAX_TOKENS: '40',
        UPLOAD_MAX_BYTES: '200000',
      },
    });
    const client2 = app.client(client.userId);
    const res = await client2.request(ReprocessDocumentDocument, { id: doc.id });
    expect(res.data!.reprocessDocument).toMatchObject({ __typename: 'Document', status: 'QUEUED' });
    const after = await settled(client2, doc.id);
    expect(after.status).toBe('PROCESSED');
    expect(after.chunkCount).toBeGreaterThan(before.chunkCount);
    await expectPackedChunks(app.services, client.userId, doc.id, after.chunkCount);
    for (const edge of after.__typename === 'Document'
      ? member(after.chunks, 'DocumentChunksConnection').edges
      : []) {
      expect(edge.node.text.length).toBeLessThanOrEqual(40 * 4);
    }
    // reprocessing again with the same chunker changes nothing
    await client2.request(ReprocessDocumentDocument, { id: doc.id });
    const again = await settled(client2, doc.id);
    expect(again.chunkCount).toBe(after.chunkCount);
    await expectPackedChunks(app.services, client.userId, doc.id, after.chunkCount);
  });
});

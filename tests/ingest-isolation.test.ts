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
import { getDocument, settled, uploadDocument } from './helpers/ingest.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ withWorkers: true });
});
afterAll(async () => {
  await app?.close();
});

const secret = 'The combination to the Zanzibar vault is kept under the blue ceramic owl on the mantel.';

describe('tenant isolation', () => {
  it('one user can never read, search, change or watch another user’s documents', async () => {
    const alice = app.client();
    const mallory = app.client();
    const doc = await uploadDocument(alice, 'secret.txt', secret);
    await settled(alice, doc.id);

    expect(await getDocument(mallory, doc.id)).toMatchObject({ __typename: 'NotFound', code: 'NOT_FOUND' });
    expect(await getDocument(mallory, 'not-a-uuid')).toMatchObject({ __typename: 'NotFound' });
    const list = await mallory.request(DocumentsDocument, { first: 50 });
    expect(member(list.data!.documents, 'QueryDocumentsConnection').edges).toEqual([]);
    const hits = await mallory.request(SearchDocument, { query: 'Zanzibar vault ceramic owl', limit: 10 });
    expect(hits.data!.search).toEqual({ __typename: 'SearchResults', data: [] });

    // watching: Mallory subscribes to Alice's document id over both transports
    const ws = mallory.subscribeWs(IngestProgressDocument, { documentId: doc.id, afterSeq: 0 });
    const sse = mallory.subscribeSse(IngestProgressDocument, { documentId: doc.id, afterSeq: 0 });
    const aliceWatch = alice.subscribeWs(IngestProgressDocument, { documentId: doc.id });
    await new Promise((r) => setTimeout(r, 300));

    for (const mutation of [DeleteDocumentDocument, ReprocessDocumentDocument, CancelIngestDocument]) {
      const res = await mallory.request(mutation as typeof DeleteDocumentDocument, { id: doc.id });
      const field = Object.values(res.data as Record<string, { __typename: string }>)[0]!;
      expect(field.__typename).toBe('NotFound');
    }
    // Alice's own reprocess produces events only Alice sees
    await alice.request(ReprocessDocumentDocument, { id: doc.id });
    await aliceWatch.until((e) => e.data?.ingestProgress.stage === 'DONE', 20_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ws.received).toEqual([]);
    expect(sse.received).toEqual([]);
    ws.close();
    sse.close();
    aliceWatch.close();

    // and the document is intact for its owner
    const mine = await settled(alice, doc.id);
    expect(mine.status).toBe('PROCESSED');
    const found = await alice.request(SearchDocument, { query: 'Zanzibar vault ceramic owl', limit: 1 });
    const data = found.data!.search;
    expect(data.__typename === 'SearchResults' && data.data[0]?.document.id).toBe(doc.id);
  });

  it('streams progress over SSE in order, resuming from afterSeq', async () => {
    const client = app.client();
    const sse = client.subscribeSse(IngestProgressDocument, { afterSeq: 0 });
    await new Promise((r) => setTimeout(r, 200));
    const doc = await uploadDocument(
      client,
      'sse.txt',
      'Sourdough starters need feeding twice a day in warm kitchens.',
    );
    const events = await sse.until((e) => e.data?.ingestProgress.stage === 'DONE', 20_000);
    sse.close();
    const progress = events.map((e) => e.data!.ingestProgress).filter((e) => e.documentId === doc.id);
    const distinct = progress.map((p) => p.stage).filter((s, i, all) => all[i - 1] !== s);
    expect(distinct).toEqual(['QUEUED', 'EXTRACTING', 'CHUNKING', 'EMBEDDING', 'INDEXING', 'DONE']);
    // a client that saw up to EMBEDDING resumes and gets exactly the rest
    const cut = progress.findIndex((p) => p.stage === 'EMBEDDING');
    const resumed = client.subscribeSse(IngestProgressDocument, {
      documentId: doc.id,
      afterSeq: progress[cut]!.seq,
    });
    const rest = await resumed.until((e) => e.data?.ingestProgress.stage === 'DONE');
    resumed.close();
    expect(rest.map((e) => e.data!.ingestProgress.seq)).toEqual(progress.slice(cut + 1).map((p) => p.seq));
  });
});

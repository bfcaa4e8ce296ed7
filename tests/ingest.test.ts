import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EmbedderDocument,
  IngestProgressDocument,
  SearchDocument,
  UploadDocumentsDocument,
} from '../src/sdk/generated/graphql.ts';
import { member } from './helpers/client.ts';
import type { TestApp } from './helpers/harness.ts';
import { startTestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import * as fx from './helpers/ingest-fixtures.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ withWorkers: true, env: { CHUNK_MIN_TOKENS: '8', CHUNK_MAX_TOKENS: '120' } });
});
afterAll(async () => {
  await app?.close();
});

const essay = [
  'The lighthouse keeper on Skellig Island logged every passing trawler in a leather notebook.',
  'Storms in November tore shingles from the roof, and the keeper patched them with tar and canvas.',
  'Supply boats came twice a month, bringing flour, lamp oil and letters from the mainland.',
].join(' ');

async function search(client: ReturnType<TestApp['client']>, query: string, limit = 5) {
  const res = await client.request(SearchDocument, { query, limit });
  expect(res.errors).toBeUndefined();
  const result = res.data!.search;
  if (result.__typename !== 'SearchResults') throw new Error(`search failed: ${JSON.stringify(result)}`);
  return result.data;
}

describe('upload → ingest → search', () => {
  // The local embedder hashes words and character trigrams: it finds text by the words a query
  // shares with it, not by meaning (a semantic embedder is another issue's work).
  it('ingests a text file with ordered progress over WebSocket and finds it by the words a query shares', async () => {
    const client = app.client();
    const events = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    const doc = await uploadDocument(client, 'keeper.txt', essay);
    expect(doc).toMatchObject({
      filename: 'keeper.txt',
      contentType: 'text/plain',
      status: 'QUEUED',
      kind: 'DOCUMENT',
    });
    const seen = await events.until((e) => e.data?.ingestProgress.stage === 'DONE', 20_000);
    events.close();
    const stages = seen.map((e) => e.data!.ingestProgress).filter((e) => e.documentId === doc.id);
    const order = ['QUEUED', 'EXTRACTING', 'CHUNKING', 'EMBEDDING', 'INDEXING', 'DONE'];
    const distinct = stages.map((s) => s.stage).filter((s, i, all) => all[i - 1] !== s);
    expect(distinct).toEqual(order);
    const seqs = stages.map((s) => s.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(stages.at(-1)).toMatchObject({ stage: 'DONE', error: null });
    expect(stages.at(-1)!.total).toBeGreaterThan(0);

    const done = await settled(client, doc.id);
    expect(done).toMatchObject({ status: 'PROCESSED', processed: true, embeddingModel: 'local-hash-v1@384' });
    expect(done.__typename === 'Document' && done.chunkCount).toBeGreaterThan(0);
    if (done.__typename !== 'Document') throw new Error('unreachable');
    const chunks = member(done.chunks, 'DocumentChunksConnection').edges;
    expect(chunks.map((e) => e.node.text).join(' ')).toContain('lighthouse keeper');
    // each chunk points into the document's one chunk file, at its own bytes
    expect(chunks[0]!.node.s3Path).toMatch(new RegExp(`^chunks/${doc.id}\\.jsonl#0-\\d+$`));
    expect(await app.services.blobs.list(client.userId, `chunks/${doc.id}`)).toEqual([
      `chunks/${doc.id}.jsonl`,
    ]);

    // "keeper", "patched", "roof" and "storms" are words of the second sentence
    const hits = await search(client, 'keeper patched the roof after storms');
    expect(hits[0]!.document.id).toBe(doc.id);
    expect(hits[0]!.text).toContain('patched them with tar');
    // each hit's offsets cite its text exactly: the extracted text (here the file) sliced there
    for (const hit of hits.filter((h) => h.document.id === doc.id)) {
      expect(hit.charEnd).toBeGreaterThan(hit.charStart);
      expect(essay.slice(hit.charStart, hit.charEnd)).toBe(hit.text);
    }
    expect(hits[0]!.embeddingModel).toBe('local-hash-v1@384');

    const info = await client.request(EmbedderDocument, {});
    expect(info.data!.embedder).toMatchObject({
      model: 'local-hash-v1@384',
      dimensions: 384,
      kind: 'local',
      localFallback: true,
    });
  });

  it('extracts every supported format, keeping pdf page numbers', async () => {
    const client = app.client();
    const files: Record<string, Uint8Array | string> = {
      'notes.md': '# Beekeeping\n\nThe queen bee of hive seven swarmed in May.\n',
      'page.html':
        '<!doctype html><html><body><h1>Glacier</h1><p>The Vatnajokull glacier retreats each summer.</p></body></html>',
      'report.pdf': await fx.pdf([
        'Orchard report: the plum trees flowered early.',
        'Second page: the walnut harvest failed in frost.',
      ]),
      'letter.docx': fx.docx(['Dear Margaret, the violin workshop in Cremona reopened.']),
      'deck.pptx': fx.pptx(['Quarterly kayak rental revenue', 'Paddle inventory shrank by a third']),
      'budget.xlsx': fx.xlsx([
        ['Telescope', 'Mirror'],
        ['Eyepiece', 'Tripod'],
      ]),
      'essay.odt': fx.odt(['The tapestry weavers of Aubusson use wool dyed with madder.']),
      'book.epub': fx.epub(['Captain Nemo steered the Nautilus beneath the polar ice.']),
      'chat.json': fx.chatJson('Garden chat', [
        ['How do I prune tomatoes?', 'Pinch the suckers between stem and branch.'],
      ]),
    };
    const names = Object.keys(files);
    const res = await client.upload(
      UploadDocumentsDocument,
      { files: names.map(() => null) as never },
      Object.fromEntries(
        names.map((n, i) => [
          `files.${i}`,
          {
            name: n,
            content:
              typeof files[n] === 'string' ? (files[n] as string) : Buffer.from(files[n] as Uint8Array),
          },
        ]),
      ),
    );
    expect(res.errors).toBeUndefined();
    const uploaded = res.data!.uploadDocuments;
    expect(uploaded.map((u) => u.__typename)).toEqual(names.map(() => 'Document'));
    const ids = uploaded.map((u) => (u.__typename === 'Document' ? u.id : ''));
    const docs = await Promise.all(ids.map((id) => settled(client, id)));
    for (const [i, d] of docs.entries())
      expect({ name: names[i], status: d.status, error: d.error }).toEqual({
        name: names[i],
        status: 'PROCESSED',
        error: null,
      });
    const types = Object.fromEntries(
      docs.map((d, i) => [names[i], d.__typename === 'Document' ? d.contentType : '']),
    );
    expect(types['letter.docx']).toContain('wordprocessingml');
    expect(types['book.epub']).toBe('application/epub+zip');
    expect(docs[names.indexOf('chat.json')]).toMatchObject({ kind: 'CHAT' });

    const expectations: [string, string][] = [
      ['queen bee swarmed', 'notes.md'],
      ['glacier retreats summer', 'page.html'],
      ['walnut harvest frost', 'report.pdf'],
      ['violin workshop Cremona', 'letter.docx'],
      ['paddle inventory', 'deck.pptx'],
      ['telescope eyepiece tripod', 'budget.xlsx'],
      ['tapestry weavers wool madder', 'essay.odt'],
      ['Nautilus polar ice', 'book.epub'],
      ['prune tomatoes suckers', 'chat.json'],
    ];
    for (const [query, name] of expectations) {
      const hits = await search(client, query, 3);
      expect({ query, top: hits[0]?.document.filename }).toEqual({ query, top: name });
    }
    const walnut = (await search(client, 'walnut harvest frost', 1))[0]!;
    expect(walnut.page).toBe(2);
    expect(walnut.text).toContain('walnut');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedderModelDir, parseConfig } from '../src/config.ts';
import {
  CancelIngestDocument,
  DeleteDocumentDocument,
  ReprocessDocumentDocument,
  SearchDocument,
} from '../src/sdk/generated/graphql.ts';
import { localModelInstalled } from '../src/services/adapters/local/embedder.minilm.ts';
import type { TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { holdIngestAt, settled, uploadDocument } from './helpers/ingest.ts';

// Hybrid search (DESIGN §5) through the real ingest, PostgreSQL full-text index, Weaviate and the
// REAL embedded model (all-MiniLM-L6-v2): an exact number only the full-text side can pin down
// and a paraphrase only the semantic side can find, in one corpus; one tenant never finds
// another's chunks; deleted and mid-reprocess documents are never served.

const RUNNING = [
  'My training log for the spring. I ran 40 km a week, did 52 push-ups each morning and slept by 1 am.',
  'The Berlin half marathon was the goal of the season. I finished it in 1:52:40, a personal best by four minutes.',
  'The year before, my Hamburg half marathon took 1:56:40 and my Vienna one 1:52:49, both in the rain.',
  'Interval splits from the track: 1:52:41, 1:52:39, 0:52:40 and 1:53:40 over the long repeats.',
  'Recovery took a week. Easy runs only, a sports massage on Thursday, and far too much pasta.',
].join('\n\n');
const TOOLS = [
  'For years I wrote everything in Vim. Last winter I switched my editor from Vim to Helix and never looked back.',
  'My laptop is a ThinkPad with a split keyboard; the trackpad is disabled because I never use it.',
  'Backups go to a small NAS in the hallway every night at three.',
].join('\n\n');
const GARDEN = [
  'The tomatoes did badly this year: the summer was cold and the blight came early in August.',
  'Grandma taught me to prune the apple trees in February, before the sap rises.',
].join('\n\n');
const OTHER_TENANT =
  'A stranger wrote this: the zanzibarquokka expedition finished at 1:52:40 sharp near the harbour.';

let app: TestApp;
let client: TestClient;
const ids: Record<string, string> = {};

async function search(c: TestClient, query: string, limit = 5) {
  const res = await c.request(SearchDocument, { query, limit });
  expect(res.errors).toBeUndefined();
  const result = res.data!.search;
  if (result.__typename !== 'SearchResults') throw new Error(`search failed: ${JSON.stringify(result)}`);
  return result.data;
}

beforeAll(async () => {
  const dir = embedderModelDir(parseConfig({ ...process.env, NODE_ENV: 'test' }));
  if (!localModelInstalled(dir))
    throw new Error(`the embedding model is not installed in ${dir}: run scripts/embedder-model.sh`);
  app = await startTestApp({
    withWorkers: true,
    env: { EMBEDDER: 'local-model', CHUNK_MIN_TOKENS: '8', CHUNK_MAX_TOKENS: '40' },
  });
  client = app.client();
  for (const [name, text] of [
    ['running.md', RUNNING],
    ['tools.md', TOOLS],
    ['garden.md', GARDEN],
  ] as const) {
    const doc = await uploadDocument(client, name, text);
    ids[name] = doc.id;
  }
  for (const id of Object.values(ids))
    expect(await settled(client, id, 60_000)).toMatchObject({ status: 'PROCESSED' });
}, 120_000);
afterAll(async () => {
  await app?.close();
});

describe('hybrid search', () => {
  it('finds an exact number, which only one chunk holds, first and by the full-text side', async () => {
    expect(app.services.embedder.kind).toBe('local-model');
    // the training log holds 1, 52 and 40 apart, other races and splits hold times like it (the
    // semantic side ranks the splits a close second); only the Berlin chunk holds 1:52:40
    for (const query of ['1:52:40', 'which race did I finish in 1:52:40?']) {
      const hits = await search(client, query);
      expect({ query, text: hits[0]?.text }).toEqual({ query, text: expect.stringContaining('1:52:40') });
      expect(hits[0]!.matchedBy).not.toBe('VECTOR');
      expect(hits[0]!.lexicalScore).toBeGreaterThan(0);
      expect(hits.filter((h) => h.text.includes('1:52:40'))).toHaveLength(1);
    }
  });

  it('finds a paraphrase that shares no word with its chunk, by the semantic side, in the same corpus', async () => {
    const hits = await search(client, 'Which text editor do you use these days?');
    expect(hits[0]!.text).toContain('from Vim to Helix');
    expect(hits[0]!.document.id).toBe(ids['tools.md']);
    expect(['VECTOR', 'BOTH']).toContain(hits[0]!.matchedBy);
    expect(hits[0]!.vectorScore).toBeGreaterThan(0.3);
    // scores are the fused ones: best first, in [0, 1]
    for (const [i, h] of hits.entries()) {
      expect(h.score).toBeGreaterThan(0);
      expect(h.score).toBeLessThanOrEqual(1);
      if (i > 0) expect(h.score).toBeLessThanOrEqual(hits[i - 1]!.score);
    }
    // the chat path retrieves through the same service
    const passages = await app.services.retrieval.retrieve(client.userId, 'What editor am I using now?');
    expect(passages[0]?.text).toContain('Helix');
  });

  it("never finds another tenant's chunk, on either side", async () => {
    const stranger = app.client();
    const theirs = await uploadDocument(stranger, 'stranger.md', OTHER_TENANT);
    expect(await settled(stranger, theirs.id, 60_000)).toMatchObject({ status: 'PROCESSED' });
    // their own search finds it by its unique word
    expect((await search(stranger, 'zanzibarquokka'))[0]?.document.id).toBe(theirs.id);
    for (const query of ['zanzibarquokka expedition', '1:52:40']) {
      const mine = await search(client, query, 20);
      expect(mine.map((h) => h.document.id)).not.toContain(theirs.id);
      const lexical = await app.services.lexical.search(client.userId, query, { limit: 50 });
      expect(lexical.map((h) => h.documentId)).not.toContain(theirs.id);
    }
  });

  it('never serves a document mid-reprocess, after a cancelled reprocess, or once deleted', async () => {
    const id = ids['running.md']!;
    const hold = holdIngestAt(app.services, 'EMBEDDING');
    try {
      const res = await client.request(ReprocessDocumentDocument, { id });
      expect(res.data?.reprocessDocument.__typename).toBe('Document');
      expect(await hold.reached).toBe(id);
      // held mid-way (the embedder is held too, so the full-text side is asked directly)
      const during = await app.services.lexical.search(client.userId, '1:52:40 Berlin half marathon', {
        limit: 20,
      });
      expect(during.map((h) => h.documentId)).not.toContain(id);
      await client.request(CancelIngestDocument, { id });
      expect(await settled(client, id)).toMatchObject({ status: 'FAILED' });
    } finally {
      hold.restore();
    }
    expect((await search(client, '1:52:40', 20)).map((h) => h.document.id)).not.toContain(id);

    // reprocessed to the end, it is found again, each chunk once
    await client.request(ReprocessDocumentDocument, { id });
    const doc = await settled(client, id, 60_000);
    expect(doc.status).toBe('PROCESSED');
    expect(await app.services.lexical.countByDocument(client.userId, id)).toBe(doc.chunkCount);
    const again = await search(client, '1:52:40', 20);
    expect(again[0]?.text).toContain('1:52:40');
    const keys = again.map((h) => `${h.document.id}#${h.chunkIndex}`);
    expect(new Set(keys).size).toBe(keys.length);

    const gone = await client.request(DeleteDocumentDocument, { id });
    expect(gone.data?.deleteDocument.__typename).toBe('DeletedDocument');
    expect(await app.services.lexical.countByDocument(client.userId, id)).toBe(0);
    const after = await search(client, '1:52:40 Berlin half marathon', 20);
    expect(after.map((h) => h.document.id)).not.toContain(id);
    expect(after.some((h) => h.text.includes('1:52:40'))).toBe(false);
  });
});

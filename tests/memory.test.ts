import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteDocumentDocument,
  MemoryClusterDocument,
  MemoryEntitiesDocument,
  MemoryProgressDocument,
} from '../src/sdk/generated/graphql.ts';
import { readSnapshot } from '../src/services/memory/snapshot/snapshot-store.ts';
import { BIO_TEMPLATE_WORDS } from '../src/services/memory/text/bio-offline.ts';
import { memoryKeys } from '../src/services/tenant-keys.ts';
import type { LiveSubscription } from './helpers/client.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { nextBuild, overview, type ProgressEvent, stageOf, THEMES, type Theme } from './helpers/memory.ts';

// L1 memory end to end, offline (MEMORY-TRAINING.md A10, integration): real uploads through
// GraphQL, the worker's debounced memory-update job, and the result read back through GraphQL,
// S3 and PostgreSQL.

const CORPUS = Object.values(THEMES).flat().join(' ');

async function clusterDocs(client: TestClient, clusterId: string): Promise<string[]> {
  const res = await client.request(MemoryClusterDocument, { id: clusterId, first: 100 });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  const chunks = member(res.data!.memory.cluster!.chunks!, 'MemoryClusterChunksConnection');
  return chunks.edges.map((e) => e.node.documentId);
}

describe('L1 memory, offline', () => {
  let app: TestApp;
  let client: TestClient;
  let events: LiveSubscription<ProgressEvent>;
  const docTheme = new Map<string, Theme>();
  const docIds: Record<Theme, string[]> = { sailing: [], baking: [], astronomy: [] };

  beforeAll(async () => {
    app = await startTestApp({
      withWorkers: true,
      // small chunks, so each theme has enough of them to make a cluster (3 members at least)
      env: { MEMORY_DEBOUNCE_MS: '5000', CHUNK_MIN_TOKENS: '30', CHUNK_MAX_TOKENS: '80' },
    });
    client = app.client();
    events = client.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    // six quick uploads: a burst the debounce turns into one build
    const uploads = Object.entries(THEMES).flatMap(([theme, texts]) =>
      texts.map((text, i) => ({ theme: theme as Theme, name: `${theme}-${i}.txt`, text })),
    );
    for (const u of uploads) {
      const doc = await uploadDocument(client, u.name, u.text);
      docTheme.set(doc.id, u.theme);
      docIds[u.theme].push(doc.id);
    }
    for (const id of docTheme.keys()) expect((await settled(client, id)).status).toBe('PROCESSED');
  }, 120_000);
  afterAll(async () => {
    events?.close();
    await app?.close();
  });

  it('builds once for a burst of uploads: three topics, each one theme, labelled by it', async () => {
    const done = await nextBuild(events);
    expect(done.stage).toBe('DONE');
    const stages = events.received
      .map(stageOf)
      .filter((e) => e?.version === done.version)
      .map((e) => e!.stage);
    expect(stages).toEqual(
      expect.arrayContaining([
        'VECTORS',
        'CLUSTERING',
        'LABELING',
        'ENTITIES',
        'HIERARCHY',
        'BIO',
        'WRITING',
        'DONE',
      ]),
    );
    // no second build follows the burst
    await new Promise((r) => setTimeout(r, 6000));
    const builds = new Set(
      events.received
        .map(stageOf)
        .filter((e) => e?.stage === 'DONE')
        .map((e) => e!.version),
    );
    expect(builds.size).toBe(1);

    const memory = await overview(client);
    expect(memory).toMatchObject({ status: 'READY', version: done.version });
    expect(memory.topics).toHaveLength(3);
    const themesSeen = new Set<Theme>();
    for (const topic of memory.topics) {
      const docs = (await Promise.all(topic.clusters.map((c) => clusterDocs(client, c.id)))).flat();
      const themes = new Set(docs.map((d) => docTheme.get(d)));
      expect(themes.size, `topic ${topic.label} mixes ${[...themes]}`).toBe(1);
      const theme = [...themes][0]!;
      themesSeen.add(theme);
      expect(topic.label.toLowerCase()).toContain(theme);
      expect(topic.size).toBe(docs.length);
    }
    expect(themesSeen.size).toBe(3);
  });

  it('finds the people and places in the person’s words, with their evidence', async () => {
    const res = await client.request(MemoryEntitiesDocument, { query: 'Kowalski', first: 10 });
    const page = member(res.data!.memory.entities, 'MemoryEntitiesConnection');
    const anna = page.edges.map((e) => e.node).find((e) => e.name === 'Anna Kowalski');
    expect(anna).toMatchObject({ type: 'PERSON' });
    expect(new Set(anna!.mentions.map((m) => m.documentId))).toEqual(new Set([docIds.sailing[0]]));
  });

  it('writes a biography from the corpus only', async () => {
    const { bio } = await overview(client);
    expect(bio).toMatchObject({ generatedBy: 'OFFLINE' });
    const text = `${bio!.thirdPerson} ${bio!.secondPerson} ${bio!.status}`;
    expect(bio!.secondPerson.toLowerCase()).toMatch(/sailing|baking|astronomy/);
    // the person is not listed among the people in their own bio
    expect(text).not.toContain('(you)');
    expect(bio!.secondPerson).toContain('Anna Kowalski');
    const template = new Set(BIO_TEMPLATE_WORDS.map((w) => w.toLowerCase()));
    for (const word of text.match(/\b[A-Z][\p{L}'’-]+/gu) ?? []) {
      const known = CORPUS.includes(word) || template.has(word.toLowerCase());
      expect(known, `"${word}" is neither in the corpus nor a template word`).toBe(true);
    }
  });

  it('keeps a snapshot in S3 whose rows and counts match the documents, and the §4 views', async () => {
    const memory = await overview(client);
    const snapshot = await readSnapshot(app.services.blobs, client.userId, memory.version!);
    expect(snapshot).not.toBeNull();
    const docs = await app.services.db.documents.listProcessed(client.userId);
    const chunkTotal = docs.reduce((s, d) => s + d.chunkCount, 0);
    expect(snapshot!.chunks).toHaveLength(chunkTotal);
    expect(snapshot!.manifest.counts).toMatchObject({
      documents: 6,
      chunks: chunkTotal,
      clusters: snapshot!.clusters.length,
      topics: snapshot!.topics.length,
      entities: snapshot!.entities.length,
    });
    const keys = await app.services.blobs.list(client.userId, '');
    for (const name of ['chunks', 'clusters', 'topics', 'entities', 'relations'])
      expect(keys).toContain(memoryKeys.versionFile(memory.version!, `${name}.parquet`));
    for (const view of ['bio.json', 'topics.json', 'entities.json', 'clusters.json'])
      expect(keys).toContain(memoryKeys.view(view));
    expect(keys).toContain(memoryKeys.graphrag('subjective', 'entities'));
    const bio = JSON.parse((await app.services.blobs.get(client.userId, memoryKeys.bio())).toString('utf8'));
    expect(bio.version).toBe(memory.version);
  });

  it('adds a document incrementally, keeping the ids and labels of clusters it does not touch', async () => {
    const before = await readSnapshot(app.services.blobs, client.userId, (await overview(client)).version!);
    const doc = await uploadDocument(
      client,
      'astronomy-2.txt',
      'Astronomy again: my telescope found the Andromeda galaxy, and I logged the stars, the planets and a bright comet in my astronomy journal before dawn.',
    );
    docTheme.set(doc.id, 'astronomy');
    docIds.astronomy.push(doc.id);
    await settled(client, doc.id);
    const done = await nextBuild(events);
    expect(done.stage).toBe('DONE');
    const after = await readSnapshot(app.services.blobs, client.userId, done.version);
    expect(after!.manifest.mode).toBe('incremental');
    const astronomyDocs = new Set(docIds.astronomy);
    const untouched = before!.clusters.filter(
      (c) => !before!.chunks.some((a) => a.clusterId === c.clusterId && astronomyDocs.has(a.documentId)),
    );
    expect(untouched.length).toBeGreaterThan(0);
    for (const c of untouched) {
      const now = after!.clusters.find((x) => x.clusterId === c.clusterId);
      expect(now, `cluster ${c.label} kept`).toBeDefined();
      expect(now!.label).toBe(c.label);
    }
    const placed = after!.chunks.filter((a) => a.documentId === doc.id);
    expect(placed.length).toBeGreaterThan(0);
  });

  it('deletes a document from memory: no assignment, mention or orphan entity is left', async () => {
    const sailingDoc = docIds.sailing[0]!;
    const res = await client.request(DeleteDocumentDocument, { id: sailingDoc });
    expect(res.errors).toBeUndefined();
    const done = await nextBuild(events);
    expect(done.stage).toBe('DONE');
    const snapshot = await readSnapshot(app.services.blobs, client.userId, done.version);
    expect(snapshot!.chunks.some((a) => a.documentId === sailingDoc)).toBe(false);
    expect(snapshot!.entities.some((e) => e.documentIds.includes(sailingDoc))).toBe(false);
    const entities = await client.request(MemoryEntitiesDocument, { query: 'Kowalski', first: 10 });
    expect(member(entities.data!.memory.entities, 'MemoryEntitiesConnection').edges).toEqual([]);
    const rows = await app.services.orm.em
      .getConnection()
      .execute(
        'SELECT count(*)::int AS n FROM memory_chunk_assignments WHERE user_id = ? AND version = ? AND document_id = ?',
        [client.userId, done.version, sailingDoc],
      );
    expect(rows[0]?.n).toBe(0);
    expect(await app.services.blobs.list(client.userId, `memory/extractions/${sailingDoc}`)).toEqual([]);
  });

  it('shows another user nothing of this memory', async () => {
    const other = app.client();
    const memory = await overview(other);
    expect(memory).toMatchObject({ status: 'EMPTY', version: null, bio: null, topics: [] });
    const mine = await overview(client);
    const clusterId = mine.topics[0]!.clusters[0]!.id;
    const res = await other.request(MemoryClusterDocument, { id: clusterId, first: 5 });
    expect(res.data!.memory.cluster).toBeNull();
  });
});

import type { ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteDocumentDocument,
  MemoryClusterDocument,
  MemoryEntitiesDocument,
  MemoryOverviewDocument,
  MemoryProgressDocument,
  type MemoryProgressSubscription,
} from '../src/sdk/generated/graphql.ts';
import { readSnapshot } from '../src/services/memory/snapshot/snapshot-store.ts';
import { BIO_TEMPLATE_WORDS } from '../src/services/memory/text/bio-offline.ts';
import { memoryKeys } from '../src/services/tenant-keys.ts';
import type { LiveSubscription } from './helpers/client.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';

// L1 memory end to end, offline (MEMORY-TRAINING.md A10, integration): real uploads through
// GraphQL, the worker's debounced memory-update job, and the result read back through GraphQL,
// S3 and PostgreSQL.

const THEMES = {
  sailing: [
    'I went sailing with my friend Anna Kowalski in Gdansk. Sailing the yacht across the bay, we trimmed the sails and the jib. The mainsail filled, the rigging hummed and the yacht heeled in the gusts. Sailing with Anna, I steer the tiller while the sails pull the hull. ' +
      'We tacked the yacht upwind, eased the sheets on the reach and sailed the boat back to the marina. Sailing at dawn, the sails and the rigging wet with spray, is my favourite kind of sailing. The yacht, the sails, the tiller and the wind: sailing needs all of them.',
    'My sailing log: the yacht left the marina, the sails caught the breeze and the keel cut the waves. I reefed the mainsail when the gusts grew. Sailing is reading the wind, trimming the sails and steering the tiller. The hull, mast and rigging of the yacht need care after sailing. ' +
      'Next season I want to sail the yacht to the islands, anchor in a cove and sail home under the spinnaker. Sailing log entries list the wind, the sails set, the knots sailed and every tack of the boat.',
  ],
  baking: [
    'I bake sourdough bread every Sunday. Baking starts with the starter, flour and water kneaded into dough. The dough rises, then I shape the loaves and bake the bread in the oven. Baking bread, I score the loaves so the crust opens in the oven. ' +
      'The sourdough starter needs feeding with flour and water, and the dough needs folding while it proofs. Baking teaches me to watch the dough, not the clock, and a hot oven gives the bread its crust. I bake two loaves of bread each time.',
    'My baking notes: rye flour makes a dense loaf, the oven needs preheating, and steam makes the bread crust crisp. I bake croissants, folding butter into the dough. Baking pastry, I knead the dough, proof the loaves and bake them until the crust is golden. ' +
      'For baking cakes I cream butter and sugar, fold in flour and eggs, and bake the batter in a tin. Baking notes list the flour, the dough hydration, the oven heat and how long each loaf of bread baked.',
  ],
  astronomy: [
    'I watch the stars through my telescope. Astronomy is my hobby: I track planets, the moon and galaxies, and I log every comet in my astronomy journal. The telescope eyepiece shows craters on the moon. Astronomy means charts of stars, planets and nebulae. ' +
      'On clear nights I set up the telescope, find the planets, and sketch the stars of each constellation. Astronomy needs dark skies, a steady telescope mount and patience with the stars and planets.',
    'My astronomy journal: Jupiter and Saturn rose together, the telescope showed the moons of Jupiter, and the nebula in Orion glowed. I aligned the telescope mount on the pole star. Astronomy maps the stars, the planets and the orbits of comets. ' +
      'Through the telescope the rings of Saturn, the phases of the moon and the galaxies in the constellations fill my astronomy journal. Astronomy nights end with the telescope packed and the stars logged.',
  ],
} as const;
type Theme = keyof typeof THEMES;
const CORPUS = Object.values(THEMES).flat().join(' ');

type ProgressEvent = ExecutionResult<MemoryProgressSubscription>;
const stageOf = (e: ProgressEvent) => {
  const p = e.data?.memoryProgress;
  return p?.__typename === 'MemoryProgress' ? p : null;
};

async function overview(client: TestClient) {
  const res = await client.request(MemoryOverviewDocument, { depth: 0 });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  return res.data!.memory;
}

async function clusterDocs(client: TestClient, clusterId: string): Promise<string[]> {
  const res = await client.request(MemoryClusterDocument, { id: clusterId, first: 100 });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  const chunks = member(res.data!.memory.cluster!.chunks!, 'MemoryClusterChunksConnection');
  return chunks.edges.map((e) => e.node.documentId);
}

/** Waits for the next DONE (or FAILED) of a build and returns the versions seen finishing. */
async function nextBuild(events: LiveSubscription<ProgressEvent>, timeoutMs = 60_000) {
  const seen = await events.until((e) => ['DONE', 'FAILED'].includes(stageOf(e)?.stage ?? ''), timeoutMs);
  return stageOf(seen.at(-1)!)!;
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

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryClusterDocument,
  MemoryEntitiesDocument,
  MemoryProgressDocument,
  RebuildMemoryDocument,
  SetDocumentPerspectiveDocument,
} from '../src/sdk/generated/graphql.ts';
import { readSnapshot } from '../src/services/memory/snapshot/snapshot-store.ts';
import type { MemorySnapshot } from '../src/services/ports/memory.ts';
import type { LiveSubscription } from './helpers/client.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { nextBuild, overview, type ProgressEvent, stageOf, THEMES, type Theme } from './helpers/memory.ts';
import { type ChatRequestBody, type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

const overviewAll = (client: TestClient) => overview(client, null);

// L1 memory with an LLM (MEMORY-TRAINING.md A2, A3, A5, A6): the build talks to the OpenAI
// stand-in, which answers labels, entity extraction and the bio from what each prompt holds. One
// user's builds in order: the first, an incremental one, a full rebuild, a perspective change.

// A guidebook page about sailing, kept with a note in the first person: `auto` makes it the
// person's own words, until it is set OBJECTIVE. Its place name is in no other document.
const GUIDEBOOK =
  'I copied this guidebook page into my notes because my next sailing trip ends there. Valparaiso is a port city on the Pacific coast. ' +
  'The harbour of Valparaiso shelters yachts and sailing boats, and the sailing club races yachts across the bay every summer. ' +
  'The yacht harbour has moorings for sailing boats, and the sails of the racing yachts fill the bay. I keep it for my sailing plans.';

const ASTRONOMY_MORE =
  'Astronomy again: my telescope found the Andromeda galaxy, and I logged the stars, the planets and a bright comet in my astronomy journal before dawn. ' +
  'I pointed the telescope at the moon, then at the planets, and my astronomy journal now lists every star cluster and nebula I found with the telescope. ' +
  'Astronomy nights like this one, with the telescope, the stars and the planets, are why I keep an astronomy journal at all.';

const texts: string[] = [...Object.values(THEMES).flat(), GUIDEBOOK, ASTRONOMY_MORE];

// ---- the stand-in model: what it is asked, and what it answers ----

type Ask = 'label' | 'topic' | 'entities' | 'bio' | 'other';

/** Cluster labels and topic labels share a prompt; a cluster's excerpts are the documents' text. */
function askOf(body: ChatRequestBody): Ask {
  const system = body.messages[0]?.content ?? '';
  const user = body.messages[1]?.content ?? '';
  if (system.startsWith('You name a group of passages')) {
    const first = /Excerpts:\n\[1\] (.{30})/.exec(user)?.[1];
    return first && texts.some((t) => t.includes(first)) ? 'label' : 'topic';
  }
  if (system.startsWith('You extract named entities')) return 'entities';
  if (system.startsWith('You write a short profile')) return 'bio';
  return 'other';
}

const STEMS: Record<Theme, RegExp> = {
  sailing: /sail|yacht/gi,
  baking: /bak|bread|dough/gi,
  astronomy: /astronom|telescope|star/gi,
};

/** The theme a prompt is mostly about. */
function themeOf(body: ChatRequestBody): Theme {
  const user = body.messages[1]?.content ?? '';
  const score = (t: Theme) => user.match(STEMS[t])?.length ?? 0;
  return (Object.keys(STEMS) as Theme[]).sort((a, b) => score(b) - score(a))[0]!;
}

// the model's reading of the corpus: these names, where a chunk holds them
const NAMED = [
  { name: 'Anna Kowalski', type: 'person', description: 'Sails with the author out of Gdansk.' },
  { name: 'Gdansk', type: 'place', description: 'Where the sailing starts.' },
  { name: 'Valparaiso', type: 'place', description: 'A Pacific port.' },
  { name: 'spinnaker', type: 'object', description: 'The sail for the way home.' },
];

function extractAnswer(body: ChatRequestBody): string {
  const user = body.messages[1]?.content ?? '';
  const chunks = [...user.matchAll(/\[chunk (\d+)\] ([\s\S]*?)(?=\n\n\[chunk \d+\] |$)/g)].map((m) => ({
    n: Number(m[1]),
    text: m[2]!,
  }));
  const entities = NAMED.map((e) => ({
    ...e,
    chunks: chunks.filter((c) => c.text.includes(e.name)).map((c) => c.n),
  })).filter((e) => e.chunks.length > 0);
  const names = new Set(entities.map((e) => e.name));
  const relations =
    names.has('Anna Kowalski') && names.has('Gdansk')
      ? [{ source: 'Anna Kowalski', target: 'Gdansk', description: 'sails from', strength: 7 }]
      : [];
  return JSON.stringify({ entities, relations });
}

const GROUNDED_BIO = {
  thirdPerson: 'They write about sailing, baking and astronomy.',
  secondPerson: 'You write about sailing, baking and astronomy.',
  status: 'Lately you write about astronomy.',
};

/** Every cluster served, as GraphQL shows it, with the theme of its documents. */
async function servedClusters(client: TestClient, themeOfDoc: Map<string, Theme | 'guidebook'>) {
  const ids = new Set((await overviewAll(client)).topics.flatMap((t) => t.clusters.map((c) => c.id)));
  return Promise.all(
    [...ids].map(async (id) => {
      const res = await client.request(MemoryClusterDocument, { id, first: 100 });
      if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
      const cluster = res.data!.memory.cluster!;
      const chunks = member(cluster.chunks, 'MemoryClusterChunksConnection');
      const themes = new Set(chunks.edges.map((e) => themeOfDoc.get(e.node.documentId)));
      themes.delete('guidebook');
      return { id, label: cluster.label, labelSource: cluster.labelSource, themes: [...themes] as Theme[] };
    }),
  );
}

describe('L1 memory through an OpenAI-compatible model', () => {
  let standin: OpenAIStandin;
  let app: TestApp;
  let client: TestClient;
  let other: TestClient;
  let events: LiveSubscription<ProgressEvent>;
  let otherEvents: LiveSubscription<ProgressEvent>;
  let bioAnswer: object = GROUNDED_BIO;
  const themeOfDoc = new Map<string, Theme | 'guidebook'>();
  let guidebookId = '';
  let first: { version: string; snapshot: MemorySnapshot; bioPrompt: string };

  const asked = (from: number, ask: Ask) => standin.requests.slice(from).filter((r) => askOf(r.body) === ask);
  const snapshotOf = async (version: string) =>
    (await readSnapshot(app.services.blobs, client.userId, version))!;
  /** The next build to finish that holds all of `docIds` (uploads slower than the debounce build twice). */
  const buildWith = async (docIds: readonly string[]) => {
    for (;;) {
      const done = await nextBuild(events);
      if (done.stage !== 'DONE') return done;
      const { chunks } = await snapshotOf(done.version);
      if (docIds.every((id) => chunks.some((c) => c.documentId === id))) return done;
    }
  };

  beforeAll(async () => {
    standin = await startOpenAIStandin({
      complete: (body) => {
        const ask = askOf(body);
        if (ask === 'entities') return extractAnswer(body);
        if (ask === 'bio') return JSON.stringify(bioAnswer);
        if (ask === 'label' || ask === 'topic') {
          const theme = themeOf(body);
          // the baking cluster's answers never parse: it keeps its keyword label
          if (theme === 'baking') return 'not json';
          return JSON.stringify({ label: `LLM ${theme}`, summary: `The model on ${theme}.`, tags: [theme] });
        }
        return { status: 400 };
      },
    });
    app = await startTestApp({
      withWorkers: true,
      env: {
        CHAT_BACKEND: 'openai',
        CHAT_BASE_URL: standin.url,
        MEMORY_LLM: 'auto',
        MEMORY_DEBOUNCE_MS: '2500',
        CHUNK_MIN_TOKENS: '30',
        CHUNK_MAX_TOKENS: '80',
      },
    });
    client = app.client();
    other = app.client();
    events = client.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    otherEvents = other.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    for (const [theme, list] of Object.entries(THEMES))
      for (const [i, text] of list.entries()) {
        const doc = await uploadDocument(client, `${theme}-${i}.txt`, text);
        themeOfDoc.set(doc.id, theme as Theme);
      }
    guidebookId = (await uploadDocument(client, 'valparaiso.txt', GUIDEBOOK)).id;
    themeOfDoc.set(guidebookId, 'guidebook');
    for (const id of themeOfDoc.keys()) expect((await settled(client, id)).status).toBe('PROCESSED');
    const done = await buildWith([...themeOfDoc.keys()]);
    expect(done.stage).toBe('DONE');
    const bios = asked(0, 'bio');
    first = {
      version: done.version,
      snapshot: await snapshotOf(done.version),
      bioPrompt: bios.at(-1)?.body.messages[1]?.content ?? '',
    };
  }, 180_000);
  afterAll(async () => {
    events?.close();
    otherEvents?.close();
    await app?.close();
    await standin?.close();
  });

  it('labels clusters, finds entities and writes the bio with the model; a cluster whose answers are not JSON keeps keywords', async () => {
    const memory = await overviewAll(client);
    expect(memory).toMatchObject({ status: 'READY', version: first.version, lastError: null });
    const clusters = await servedClusters(client, themeOfDoc);
    expect(new Set(clusters.flatMap((c) => c.themes))).toEqual(new Set(['sailing', 'baking', 'astronomy']));
    for (const c of clusters) {
      expect(c.themes, `cluster ${c.label} mixes themes`).toHaveLength(1);
      const theme = c.themes[0]!;
      if (theme === 'baking') {
        expect(c.labelSource).toBe('KEYWORDS');
        expect(c.label).not.toMatch(/^LLM/);
      } else expect(c).toMatchObject({ labelSource: 'LLM', label: `LLM ${theme}` });
    }
    // each baking cluster was asked twice, the second time told why its answer was refused
    const baking = asked(0, 'label').filter((r) => themeOf(r.body) === 'baking');
    const bakingClusters = clusters.filter((c) => c.themes[0] === 'baking').length;
    expect(baking).toHaveLength(2 * bakingClusters);
    expect(baking.filter((r) => r.body.messages.at(-1)!.content.includes('not valid JSON'))).toHaveLength(
      bakingClusters,
    );

    const found = await client.request(MemoryEntitiesDocument, { query: 'Kowalski', first: 10 });
    const anna = member(found.data!.memory.entities, 'MemoryEntitiesConnection').edges.map((e) => e.node);
    expect(anna).toHaveLength(1);
    expect(anna[0]).toMatchObject({
      name: 'Anna Kowalski',
      type: 'PERSON',
      description: 'Sails with the author out of Gdansk.',
      relations: [
        { description: 'sails from', source: { name: 'Anna Kowalski' }, target: { name: 'Gdansk' } },
      ],
    });
    // an object is only ever the model's: the offline extractor finds people, places, organizations
    const objects = await client.request(MemoryEntitiesDocument, { type: 'OBJECT', first: 10 });
    const names = member(objects.data!.memory.entities, 'MemoryEntitiesConnection').edges.map(
      (e) => e.node.name,
    );
    expect(names).toEqual(['spinnaker']);

    expect(memory.bio).toMatchObject({ generatedBy: 'LLM', ...GROUNDED_BIO });
  });

  it('sends only the clusters an added document changed to the model, and keeps the others', async () => {
    const before = await servedClusters(client, themeOfDoc);
    const mark = standin.requests.length;
    const doc = await uploadDocument(client, 'astronomy-2.txt', ASTRONOMY_MORE);
    themeOfDoc.set(doc.id, 'astronomy');
    await settled(client, doc.id);
    expect((await buildWith([doc.id])).stage).toBe('DONE');

    const labelled = asked(mark, 'label');
    expect(labelled.length).toBeGreaterThan(0);
    expect(new Set(labelled.map((r) => themeOf(r.body)))).toEqual(new Set(['astronomy']));
    const after = await servedClusters(client, themeOfDoc);
    const untouched = before.filter((c) => c.themes[0] !== 'astronomy');
    expect(untouched.length).toBeGreaterThan(0);
    for (const c of untouched) expect(after.find((a) => a.id === c.id)).toEqual(c);
  });

  it("rebuilds in full keeping every cluster id and label; another user's rebuild and progress are their own", async () => {
    const before = await servedClusters(client, themeOfDoc);
    const mark = standin.requests.length;
    // this build's bio answers name a city the material never mentions: the offline bio is used
    bioAnswer = { ...GROUNDED_BIO, thirdPerson: 'They sail out of Lisbon.' };
    const mine = member(
      (await client.request(RebuildMemoryDocument, { full: true })).data!.rebuildMemory,
      'MemoryVersion',
    );
    const theirs = member(
      (await other.request(RebuildMemoryDocument, { full: true })).data!.rebuildMemory,
      'MemoryVersion',
    );
    expect(theirs.version).not.toBe(mine.version);
    expect(theirs).toMatchObject({ status: 'QUEUED', mode: 'FULL' });

    const done = await nextBuild(events);
    expect(done).toMatchObject({ stage: 'DONE', version: mine.version });
    expect((await snapshotOf(done.version)).manifest.mode).toBe('full');
    expect(await servedClusters(client, themeOfDoc)).toEqual(expect.arrayContaining(before));
    expect((await servedClusters(client, themeOfDoc)).length).toBe(before.length);
    expect(asked(mark, 'label')).toEqual([]);

    const bios = asked(mark, 'bio');
    expect(bios).toHaveLength(2);
    expect(bios[1]!.body.messages.at(-1)!.content).toContain('Lisbon');
    const { bio } = await overviewAll(client);
    expect(bio).toMatchObject({ version: mine.version, generatedBy: 'OFFLINE' });
    expect(`${bio!.thirdPerson} ${bio!.secondPerson}`).not.toContain('Lisbon');
    bioAnswer = GROUNDED_BIO;

    // the other user's build ends on its own, and neither stream carries the other's versions
    const theirsDone = await nextBuild(otherEvents);
    expect(theirsDone.version).toBe(theirs.version);
    const versionsOf = (list: LiveSubscription<ProgressEvent>) =>
      new Set(list.received.map((e) => stageOf(e)?.version));
    expect(versionsOf(otherEvents)).toEqual(new Set([theirs.version]));
    expect(versionsOf(events).has(theirs.version)).toBe(false);
    expect((await overviewAll(other)).topics).toEqual([]);
  });

  it('feeds the bio from subjective documents only: a document set OBJECTIVE leaves it', async () => {
    // auto: first-person documents are the person's own, the guidebook note included
    const guideChunks = first.snapshot.chunks.filter((c) => c.documentId === guidebookId);
    expect(guideChunks.length).toBeGreaterThan(0);
    expect(new Set(first.snapshot.chunks.map((c) => c.perspective))).toEqual(new Set(['subjective']));
    expect(first.bioPrompt).toContain('Valparaiso');

    const mark = standin.requests.length;
    const set = await client.request(SetDocumentPerspectiveDocument, {
      documentId: guidebookId,
      perspective: 'OBJECTIVE',
    });
    expect(set.data!.setDocumentPerspective).toMatchObject({ perspective: 'OBJECTIVE' });
    const done = await nextBuild(events);
    expect(done.stage).toBe('DONE');
    const snapshot = await snapshotOf(done.version);
    const guide = snapshot.chunks.filter((c) => c.documentId === guidebookId);
    expect(guide.length).toBe(guideChunks.length);
    expect(guide.every((c) => c.perspective === 'objective')).toBe(true);
    expect(
      snapshot.chunks
        .filter((c) => c.documentId !== guidebookId)
        .every((c) => c.perspective === 'subjective'),
    ).toBe(true);

    const guideIds = new Set(guide.map((c) => c.chunkId));
    expect(snapshot.bio.sourceChunkIds.length).toBeGreaterThan(0);
    expect(snapshot.bio.sourceChunkIds.filter((id) => guideIds.has(id))).toEqual([]);
    const bios = asked(mark, 'bio');
    expect(bios.length).toBeGreaterThan(0);
    for (const r of bios) expect(r.body.messages[1]!.content).not.toContain('Valparaiso');
    expect((await overviewAll(client)).bio).toMatchObject({ version: done.version, generatedBy: 'LLM' });
  });
});

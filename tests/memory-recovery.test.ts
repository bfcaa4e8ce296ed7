import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryProgressDocument, RebuildMemoryDocument } from '../src/sdk/generated/graphql.ts';
import { readSnapshot } from '../src/services/memory/snapshot/snapshot-store.ts';
import type { LiveSubscription } from './helpers/client.ts';
import { member, type TestClient } from './helpers/client.ts';
import { childEnv, startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { nextBuild, overview, type ProgressEvent, stageOf } from './helpers/memory.ts';
import { type ChatRequestBody, type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

const overviewAll = (client: TestClient) => overview(client, null);

// L1 memory builds that do not finish (MEMORY-TRAINING.md A: "a build killed at any point leaves
// memory as it was"): one that fails on its last attempt is reported, and one whose worker is
// SIGKILLed mid-way is finished by the next worker; the previous version is served throughout.

const DOCS = [
  'I went sailing with my friend Anna in Gdansk. Sailing the yacht across the bay, we trimmed the sails and the jib, and the yacht heeled in the gusts while I steered the tiller.',
  'My sailing log: the yacht left the marina, the sails caught the breeze, I reefed the mainsail when the gusts grew and sailed the boat back to the marina at dusk.',
  'I bake sourdough bread every Sunday. Baking starts with the starter, flour and water kneaded into dough; the dough rises, I shape the loaves and bake the bread in the oven.',
  'My baking notes: rye flour makes a dense loaf, steam makes the bread crust crisp, and I fold butter into the dough for croissants before I bake them until golden.',
];
const MORE_SAILING =
  'Sailing again: I sailed the yacht out of the marina, trimmed the sails in the breeze, reefed the mainsail in the gusts and steered the tiller across the bay until the yacht was home.';

/** The next build to finish that holds `documents` documents (uploads slower than the debounce build twice). */
async function buildOf(
  app: TestApp,
  client: TestClient,
  events: LiveSubscription<ProgressEvent>,
  documents: number,
) {
  for (;;) {
    const done = await nextBuild(events);
    if (done.stage !== 'DONE') return done;
    const snapshot = await readSnapshot(app.services.blobs, client.userId, done.version);
    if (snapshot && snapshot.manifest.counts.documents >= documents) return done;
  }
}

const clusterIdsOf = (memory: Awaited<ReturnType<typeof overview>>) =>
  [...new Set(memory.topics.flatMap((t) => t.clusters.map((c) => c.id)))].sort();

async function uploadAll(client: TestClient, texts: readonly string[]) {
  const ids: string[] = [];
  for (const [i, text] of texts.entries()) ids.push((await uploadDocument(client, `doc-${i}.txt`, text)).id);
  for (const id of ids) expect((await settled(client, id)).status).toBe('PROCESSED');
  return ids;
}

describe('a memory build that fails on its last attempt', () => {
  let app: TestApp;
  let client: TestClient;
  let events: LiveSubscription<ProgressEvent>;

  beforeAll(async () => {
    app = await startTestApp({
      withWorkers: true,
      env: {
        JOB_ATTEMPTS: '2',
        MEMORY_LLM: 'off',
        MEMORY_DEBOUNCE_MS: '500',
        CHUNK_MIN_TOKENS: '10',
        CHUNK_MAX_TOKENS: '40',
      },
    });
    client = app.client();
    events = client.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
  });
  afterAll(async () => {
    events?.close();
    await app?.close();
  });

  it('is FAILED with its error in memory and in memoryProgress, and the previous version stays served', async () => {
    await uploadAll(client, DOCS);
    const ready = await buildOf(app, client, events, DOCS.length);
    expect(ready.stage).toBe('DONE');
    const before = await overviewAll(client);
    expect(before).toMatchObject({ status: 'READY', version: ready.version });
    expect(before.topics.length).toBeGreaterThan(0);

    // every attempt gets as far as switching the PostgreSQL mirror, and fails there
    const repo = app.services.db.memory;
    const publish = repo.publish;
    let attempts = 0;
    repo.publish = async () => {
      attempts++;
      throw new Error('the memory tables are read-only');
    };
    try {
      await uploadAll(client, [MORE_SAILING]);
      const failed = await nextBuild(events);
      expect(failed).toMatchObject({ stage: 'FAILED', attempt: 2, error: 'the memory tables are read-only' });
      expect(attempts).toBe(2);
      const memory = await overviewAll(client);
      expect(memory).toMatchObject({
        status: 'FAILED',
        lastError: 'the memory tables are read-only',
        version: ready.version,
        building: null,
        bio: { version: ready.version },
      });
      expect(clusterIdsOf(memory)).toEqual(clusterIdsOf(before));
    } finally {
      repo.publish = publish;
    }

    // the next build, asked for by the person, succeeds and clears the error
    const rebuilt = member(
      (await client.request(RebuildMemoryDocument, {})).data!.rebuildMemory,
      'MemoryVersion',
    );
    const done = await nextBuild(events);
    expect(done).toMatchObject({ stage: 'DONE', version: rebuilt.version });
    expect(await overviewAll(client)).toMatchObject({
      status: 'READY',
      version: rebuilt.version,
      lastError: null,
    });
  }, 120_000);

  it('is FAILED with nothing served when it was the first build', async () => {
    const newcomer = app.client();
    const own = newcomer.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    const repo = app.services.db.memory;
    const publish = repo.publish;
    repo.publish = async (userId, snapshot) => {
      if (userId === newcomer.userId) throw new Error('the memory tables are read-only');
      return publish.call(repo, userId, snapshot);
    };
    try {
      await uploadAll(newcomer, DOCS.slice(0, 2));
      expect(await nextBuild(own)).toMatchObject({
        stage: 'FAILED',
        error: 'the memory tables are read-only',
      });
      expect(await overviewAll(newcomer)).toMatchObject({
        status: 'FAILED',
        lastError: 'the memory tables are read-only',
        version: null,
        bio: null,
        topics: [],
      });
    } finally {
      repo.publish = publish;
      own.close();
    }
  }, 60_000);
});

describe('a memory worker killed mid-build', () => {
  let app: TestApp;
  let standin: OpenAIStandin;
  const workers: ChildProcess[] = [];
  let workerEnv: NodeJS.ProcessEnv;
  const startWorker = () => {
    const child = spawn(process.execPath, ['src/worker.ts'], { env: workerEnv, stdio: 'ignore' });
    workers.push(child);
    return child;
  };
  // label answers wait while this is set: the build is provably mid-way in LABELING
  let hold: { promise: Promise<void>; release: () => void } | null = null;

  const isLabel = (body: ChatRequestBody) => (body.messages[0]?.content ?? '').startsWith('You name a group');

  beforeAll(async () => {
    standin = await startOpenAIStandin({
      complete: async (body) => {
        if (isLabel(body)) {
          await hold?.promise;
          return JSON.stringify({ label: 'A named group', summary: 'What the group is about.', tags: [] });
        }
        if ((body.messages[0]?.content ?? '').startsWith('You extract'))
          return '{"entities": [], "relations": []}';
        return '{"thirdPerson": "They write.", "secondPerson": "You write.", "status": ""}';
      },
    });
    const env = {
      CHAT_BACKEND: 'openai',
      CHAT_BASE_URL: standin.url,
      MEMORY_LLM: 'auto',
      MEMORY_DEBOUNCE_MS: '500',
      CHUNK_MIN_TOKENS: '10',
      CHUNK_MAX_TOKENS: '40',
    };
    app = await startTestApp({ withWorkers: false, env });
    // a killed worker's job is picked up after its lock expires: keep that short in the test
    workerEnv = childEnv(app.config, {
      ...env,
      LOG_LEVEL: 'silent',
      JOB_LOCK_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
    });
  });
  afterAll(async () => {
    hold?.release();
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await app?.close();
    await standin?.close();
  });

  it('keeps the previous version served, and the next worker publishes a new one', async () => {
    const client = app.client();
    const events = client.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    try {
      const first = startWorker();
      await uploadAll(client, DOCS);
      const a = await buildOf(app, client, events, DOCS.length);
      expect(a.stage).toBe('DONE');
      const before = await overviewAll(client);
      expect(before).toMatchObject({ status: 'READY', version: a.version });

      let release!: () => void;
      hold = { promise: new Promise<void>((r) => (release = r)), release: () => release() };
      const mark = standin.requests.length;
      await uploadAll(client, [MORE_SAILING]);
      const labeling = await events.until((e) => stageOf(e)?.stage === 'LABELING', 30_000);
      const killed = stageOf(labeling.at(-1)!)!.version;
      expect(killed).not.toBe(a.version);
      // a label request is out and unanswered: the build is inside LABELING
      const deadline = Date.now() + 10_000;
      while (!standin.requests.slice(mark).some((r) => isLabel(r.body))) {
        if (Date.now() > deadline) throw new Error('no label request reached the stand-in');
        await new Promise((r) => setTimeout(r, 50));
      }
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));

      const during = await overviewAll(client);
      expect(during).toMatchObject({ version: a.version, status: 'BUILDING', building: { version: killed } });
      expect(clusterIdsOf(during)).toEqual(clusterIdsOf(before));
      expect(during.topics.map((t) => t.label)).toEqual(before.topics.map((t) => t.label));

      hold.release();
      hold = null;
      startWorker();
      const b = await nextBuild(events, 90_000);
      expect(b.stage).toBe('DONE');
      expect(b.version).not.toBe(a.version);
      const after = await overviewAll(client);
      expect(after).toMatchObject({ status: 'READY', version: b.version, lastError: null, building: null });
      expect(after.topics.length).toBeGreaterThan(0);
    } finally {
      events.close();
    }
  }, 150_000);
  // BullMQ's stall limit (maxStalledCount 1): the second time a worker dies under the job, BullMQ
  // marks it and the next worker fails it without running it. That failure must reach the build
  // like any final failure, or the version looks like it is building for good.
  it('is FAILED once its workers died under it twice, the previous version stays served, and a rebuild is accepted', async () => {
    // the previous test's worker would take this build: stop it (it is idle) and start afresh
    for (const w of workers.filter((w) => w.exitCode === null && w.signalCode === null)) {
      w.kill('SIGTERM');
      await new Promise((r) => w.once('exit', r));
    }
    const kill = async (child: ChildProcess) => {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    };
    const labelRequestSince = async (mark: number) => {
      const deadline = Date.now() + 30_000;
      while (!standin.requests.slice(mark).some((r) => isLabel(r.body))) {
        if (Date.now() > deadline) throw new Error('no label request reached the stand-in');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const client = app.client();
    const events = client.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    try {
      const first = startWorker();
      await uploadAll(client, DOCS);
      const a = await buildOf(app, client, events, DOCS.length);
      expect(a.stage).toBe('DONE');
      const before = await overviewAll(client);
      expect(before).toMatchObject({ status: 'READY', version: a.version });

      // the second build: its first worker is SIGKILLed inside LABELING
      let release!: () => void;
      hold = { promise: new Promise<void>((r) => (release = r)), release: () => release() };
      let mark = standin.requests.length;
      await uploadAll(client, [MORE_SAILING]);
      const firstRun = stageOf(
        (await events.until((e) => stageOf(e)?.stage === 'LABELING', 30_000)).at(-1)!,
      )!;
      expect(firstRun.version).not.toBe(a.version);
      await labelRequestSince(mark);
      await kill(first);

      // the job returns to the queue (stalled once); the next worker runs it into LABELING again
      mark = standin.requests.length;
      const second = startWorker();
      const secondRun = stageOf(
        (await events.until((e) => stageOf(e)?.stage === 'LABELING', 45_000)).at(-1)!,
      )!;
      expect(secondRun.version).not.toBe(a.version);
      await labelRequestSince(mark);
      await kill(second);
      expect(await overviewAll(client)).toMatchObject({
        status: 'BUILDING',
        version: a.version,
        building: { version: secondRun.version },
      });

      // stalled twice: the third worker gets the job failed by BullMQ, not run
      hold.release();
      hold = null;
      startWorker();
      const failed = await nextBuild(events, 30_000);
      expect(failed).toMatchObject({ stage: 'FAILED', version: secondRun.version });
      expect(failed.error).toMatch(/worker stopped while running it too many times/);
      expect(failed.error).toMatch(/stalled more than allowable limit/);
      const memory = await overviewAll(client);
      expect(memory).toMatchObject({
        status: 'FAILED',
        lastError: failed.error,
        version: a.version,
        building: null,
        bio: { version: a.version },
      });
      expect(clusterIdsOf(memory)).toEqual(clusterIdsOf(before));
      expect(memory.topics.map((t) => t.label)).toEqual(before.topics.map((t) => t.label));

      // the person asks again: accepted (not MEMORY_BUILD_RUNNING), built and served
      const res = await client.request(RebuildMemoryDocument, {});
      expect(res.errors).toBeUndefined();
      expect(res.data!.rebuildMemory.__typename).toBe('MemoryVersion');
      const rebuilt = member(res.data!.rebuildMemory, 'MemoryVersion');
      const done = await nextBuild(events, 45_000);
      expect(done).toMatchObject({ stage: 'DONE', version: rebuilt.version });
      expect(done.version).not.toBe(a.version);
      const after = await overviewAll(client);
      expect(after).toMatchObject({
        status: 'READY',
        version: rebuilt.version,
        lastError: null,
        building: null,
      });
      expect(after.topics.length).toBeGreaterThan(0);
    } finally {
      events.close();
    }
  }, 150_000);
});

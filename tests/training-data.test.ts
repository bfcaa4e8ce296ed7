import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteDocumentDocument, MemoryProgressDocument } from '../src/sdk/generated/graphql.ts';
import { OpenAITextModel } from '../src/services/adapters/openai/text-model.openai.ts';
import { readSnapshot } from '../src/services/memory/snapshot/snapshot-store.ts';
import type { BlobStore } from '../src/services/ports/blob-store.ts';
import { l2Keys, memoryKeys } from '../src/services/tenant-keys.ts';
import type { EvalItem, L2Manifest, TrainingRecord } from '../src/services/training-data/records.ts';
import {
  DEFAULT_TRAINING_DATA_OPTIONS,
  NotEnoughMemoryError,
  prepareTrainingData,
  readTrainingDataManifest,
  type TrainingDataOptions,
} from '../src/services/training-data/training-data.service.ts';
import type { LiveSubscription, TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { nextBuild, type ProgressEvent, THEMES } from './helpers/memory.ts';
import { type ChatRequestBody, type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

// L2 data on the real services (MEMORY-TRAINING.md B): a user's documents go through ingest and an
// offline L1 build, then prepareTrainingData reads that pinned version from S3 and PostgreSQL and
// writes training_data/L2/{runId}/ back to S3, manifest last.

const MARKER = 'quokkawave';
// an imported chat export: the assistant's turns are another model's words, never the person's
const CHAT_EXPORT = JSON.stringify({
  title: 'Planning the regatta',
  createTime: '2026-01-05T10:00:00Z',
  messages: [
    {
      role: 'user',
      content: 'I want to sail the yacht in the autumn regatta with Anna Kowalski and trim the sails myself.',
    },
    { role: 'assistant', content: `Great idea, the ${MARKER} plan: sail on to Valletta afterwards.` },
    {
      role: 'user',
      content: 'I will reef the mainsail early if the gusts grow, as I always do when sailing.',
    },
  ],
});

const RAW = ['preference', 'diversity', 'selfqa', 'abstention', 'merged'] as const;

/** The blob store, recording the order of its writes. */
function recording(blobs: BlobStore) {
  const puts: string[] = [];
  const store: BlobStore = Object.create(blobs);
  store.put = (userId, key, body, options) => {
    puts.push(key);
    return blobs.put(userId, key, body, options);
  };
  return { store, puts };
}

describe('L2 training data from a built memory', () => {
  let app: TestApp;
  let client: TestClient;
  let events: LiveSubscription<ProgressEvent>;
  let version: string;
  let options: TrainingDataOptions;
  const docIds: string[] = [];

  const read = async <T>(key: string, userId = client.userId) =>
    JSON.parse((await app.services.blobs.get(userId, key)).toString('utf8')) as T;
  const deps = (blobs: BlobStore = app.services.blobs) => ({
    blobs,
    documents: app.services.db.documents,
    textModel: null,
  });

  beforeAll(async () => {
    app = await startTestApp({
      withWorkers: true,
      env: { MEMORY_DEBOUNCE_MS: '4000', CHUNK_MIN_TOKENS: '30', CHUNK_MAX_TOKENS: '80' },
    });
    options = {
      ...DEFAULT_TRAINING_DATA_OPTIONS,
      contextTokens: app.config.CHAT_CONTEXT_TOKENS,
      historyTokens: app.config.CHAT_HISTORY_TOKENS,
      minExamples: 10,
    };
    client = app.client();
    events = client.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    const files = [
      ...Object.entries(THEMES).flatMap(([theme, texts]) =>
        texts.map((text, i) => ({ name: `${theme}-${i}.txt`, text })),
      ),
      { name: 'regatta-chat.json', text: CHAT_EXPORT },
    ];
    for (const f of files) docIds.push((await uploadDocument(client, f.name, f.text)).id);
    for (const id of docIds) expect((await settled(client, id)).status).toBe('PROCESSED');
    // uploads slower than the debounce build more than once: pin the build that holds them all
    for (;;) {
      const done = await nextBuild(events);
      expect(done.stage).toBe('DONE');
      const snapshot = await readSnapshot(app.services.blobs, client.userId, done.version);
      if (snapshot && snapshot.manifest.counts.documents >= docIds.length) {
        version = done.version;
        break;
      }
    }
  }, 120_000);
  afterAll(async () => {
    events?.close();
    await app?.close();
  });

  it('writes every file of the run to S3, the manifest last, with counts and hashes that match', async () => {
    const { store, puts } = recording(app.services.blobs);
    const runId = `run-${randomUUID()}`;
    const result = await prepareTrainingData(
      deps(store),
      { userId: client.userId, runId, l1Version: version, generator: 'template' },
      options,
    );
    expect(result).toMatchObject({
      l1Version: version,
      generator: { kind: 'template', name: 'template-v1' },
    });

    const stored = (await app.services.blobs.list(client.userId, l2Keys.run(runId))).sort();
    const expected = [
      ...RAW.map((name) => l2Keys.raw(runId, name)),
      result.keys.dataset,
      result.keys.eval,
      result.keys.manifest,
      ...result.keys.mapping,
    ].sort();
    expect(stored).toEqual(expected);
    expect(puts.at(-1)).toBe(l2Keys.manifest(runId));
    expect(new Set(puts).size).toBe(puts.length);

    const manifest = await read<L2Manifest>(result.keys.manifest);
    expect(Object.keys(manifest.files).sort()).toEqual(expected.filter((k) => k !== result.keys.manifest));
    for (const [key, sha] of Object.entries(manifest.files)) {
      const body = await app.services.blobs.get(client.userId, key);
      expect(createHash('sha256').update(body).digest('hex'), key).toBe(sha);
    }
    const dataset = await read<TrainingRecord[]>(result.keys.dataset);
    const evalItems = await read<EvalItem[]>(result.keys.eval);
    expect(manifest.counts).toMatchObject({ train: dataset.length, eval: evalItems.length });
    expect(manifest.counts.train).toBeGreaterThanOrEqual(options.minExamples);
    expect(manifest.counts.eval).toBeGreaterThan(0);
    expect(manifest.counts.byType.abstention / manifest.counts.train).toBeGreaterThanOrEqual(0.1);

    // every cited chunk is one of this L1 version's, and the imported assistant's words are nowhere
    const snapshotChunks = new Set(
      (await readSnapshot(app.services.blobs, client.userId, version))!.chunks.map((c) => c.chunkId),
    );
    for (const r of dataset)
      for (const id of [...r.sourceChunkIds, ...r.contextChunkIds]) expect(snapshotChunks.has(id)).toBe(true);
    for (const key of stored) {
      const body = (await app.services.blobs.get(client.userId, key)).toString('utf8');
      expect(body, key).not.toContain(MARKER);
    }
    // a place only the assistant named is in neither L1's bio (which every system prompt shows, as
    // the chat path does) nor any question or answer
    const bio = (await app.services.blobs.get(client.userId, memoryKeys.bio())).toString('utf8');
    expect(bio).not.toContain('Valletta');
    expect(bio).toContain('Anna Kowalski'); // named in the person's own turn of that chat
    expect(JSON.stringify(dataset)).not.toContain('Valletta');
    const raw = await read<{ user: string; assistant: string }[]>(l2Keys.raw(runId, 'merged'));
    for (const r of raw) expect(`${r.user} ${r.assistant}`).not.toContain('Valletta');
    for (const r of dataset)
      expect(`${r.messages[1]!.content} ${r.messages[2]!.content}`).not.toContain('Valletta');
    for (const e of evalItems) expect(`${e.question} ${e.reference}`).not.toContain('Valletta');
    // while the person's own turns of that chat are material
    const material = JSON.stringify(dataset);
    expect(material).toContain('autumn regatta');
  });

  it('is idempotent: a rerun of the run rewrites the same keys with the same bytes', async () => {
    const runId = `run-${randomUUID()}`;
    const request = { userId: client.userId, runId, l1Version: version, generator: 'template' as const };
    const first = await prepareTrainingData(deps(), request, options);
    const before = await app.services.blobs.list(client.userId, l2Keys.run(runId));
    const dataset = (await app.services.blobs.get(client.userId, first.keys.dataset)).toString('utf8');
    const second = await prepareTrainingData(deps(), request, options);
    expect((await app.services.blobs.list(client.userId, l2Keys.run(runId))).sort()).toEqual(before.sort());
    expect((await app.services.blobs.get(client.userId, second.keys.dataset)).toString('utf8')).toBe(dataset);
    expect(second.manifest).toEqual(first.manifest);
  });

  it('synthesizes through an OpenAI-compatible model, dropping answers with invented facts', async () => {
    const standin: OpenAIStandin = await startOpenAIStandin({
      complete: (body: ChatRequestBody) => {
        const system = body.messages[0]!.content;
        const user = body.messages[1]!.content;
        if (system.includes('on one topic')) {
          const topic = /^Topic: (.*)$/m.exec(user)![1]!;
          return JSON.stringify({
            pairs: [
              {
                q: `What draws you to ${topic}?`,
                a: `I keep coming back to ${topic} because it clears my head.`,
              },
              { q: `Since when do you do ${topic}?`, a: `I started ${topic} in 1987 in Reykjavik.` },
            ],
          });
        }
        if (system.includes('mention one entity')) {
          const entity = /^Entity: (.*) \(/m.exec(user)![1]!;
          return JSON.stringify({
            pairs: [
              { type: 'infoRecall', q: `Tell me about ${entity}.`, a: `${entity} comes up in my notes.` },
            ],
          });
        }
        const questions = [...user.matchAll(/^- (.*)$/gm)].map((m) => m[1]!);
        return JSON.stringify({ answers: questions.map((q) => ({ q, a: 'NONE' })) });
      },
    });
    try {
      const textModel = new OpenAITextModel({
        baseURL: standin.url,
        model: 'standin-llm',
        timeoutMs: 5_000,
        maxRetries: 0,
      });
      const runId = `run-${randomUUID()}`;
      const result = await prepareTrainingData(
        { ...deps(), textModel },
        { userId: client.userId, runId, l1Version: version, generator: 'auto' },
        { ...options, minExamples: 3 },
      );
      expect(result.generator).toEqual({ kind: 'llm', name: 'standin-llm' });
      expect(standin.requests.length).toBeGreaterThan(3);
      expect(standin.requests.every((r) => r.body.response_format?.type === 'json_object')).toBe(true);
      const dataset = await read<TrainingRecord[]>(result.keys.dataset);
      const evalItems = await read<EvalItem[]>(result.keys.eval);
      const answers = [
        ...dataset.map((r) => r.messages.at(-1)!.content),
        ...evalItems.map((e) => e.reference),
      ].join('\n');
      expect(answers).toContain('because it clears my head');
      expect(answers).not.toContain('1987');
      expect(answers).not.toContain('Reykjavik');
      expect(result.counts.drops['unsourced-fact']).toBeGreaterThan(0);
      expect(
        dataset.filter((r) => r.type !== 'abstention').every((r) => r.generator === 'llm:standin-llm'),
      ).toBe(true);
    } finally {
      await standin.close();
    }
  });

  it('never cites a document deleted after the pinned L1 version was built', async () => {
    const gone = docIds[0]!;
    const res = await client.request(DeleteDocumentDocument, { id: gone });
    expect(res.data?.deleteDocument.__typename).toBe('DeletedDocument');
    const runId = `run-${randomUUID()}`;
    const result = await prepareTrainingData(
      deps(),
      { userId: client.userId, runId, l1Version: version, generator: 'template' },
      { ...options, minExamples: 5 },
    );
    for (const key of await app.services.blobs.list(client.userId, l2Keys.run(runId))) {
      const body = (await app.services.blobs.get(client.userId, key)).toString('utf8');
      expect(body, key).not.toContain(`${gone}:`);
    }
    expect(result.counts.usableChunks).toBeGreaterThan(0);
  });

  it('answers NotEnoughMemory for an almost empty user, and writes nothing', async () => {
    const other = app.client();
    const otherEvents = other.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
    try {
      const doc = await uploadDocument(other, 'one-note.txt', THEMES.baking[0]);
      expect((await settled(other, doc.id)).status).toBe('PROCESSED');
      expect((await nextBuild(otherEvents)).stage).toBe('DONE');
      const otherVersion = (await app.services.memory.current(other.userId))!.version;
      const runId = `run-${randomUUID()}`;
      const error = await prepareTrainingData(
        deps(),
        { userId: other.userId, runId, l1Version: otherVersion, generator: 'template' },
        options,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotEnoughMemoryError);
      expect(error).toMatchObject({ code: 'NOT_ENOUGH_MEMORY', measure: 'chunks', need: options.minChunks });
      expect(await app.services.blobs.list(other.userId, l2Keys.run(runId))).toEqual([]);
      expect(await readTrainingDataManifest(app.services.blobs, other.userId, runId)).toBeNull();
      // nor can one user's run read another's memory version
      const foreign = await prepareTrainingData(
        deps(),
        { userId: other.userId, runId, l1Version: version, generator: 'template' },
        options,
      ).catch((e: unknown) => e);
      expect(foreign).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      otherEvents.close();
    }
  }, 60_000);
});

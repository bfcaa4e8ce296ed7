import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelTrainingDocument,
  CurrentModelDocument,
  PromoteTrainingRunDocument,
  StartTrainingDocument,
  TrainingRunDocument,
  TrainingRunsDocument,
  TrainingStatusDocument,
} from '../src/sdk/generated/graphql.ts';
import { createTwinClient } from '../src/sdk/index.ts';
import { loraKeys } from '../src/services/tenant-keys.ts';
import { unsourcedFacts, vocabulary } from '../src/services/training-data/grounding.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { uploadDocument } from './helpers/ingest.ts';
import {
  type ChatBody,
  startTrainerStandin,
  type TrainerStandin,
  trainRequestSchema,
} from './helpers/trainer-standin.ts';
import { postTrainingCallback, uploadRunArtifacts } from './helpers/training-callbacks.ts';

// Training runs end to end against a strict stand-in of modal/'s endpoint (the request shapes of
// contracts/train-api.vectors.json): startTraining → L2 data from real L1 memory → POST /train →
// signed callbacks → trainingStatus over WebSocket → completed → promotion into lora/latest/.
// Forged, stale and replayed callbacks change nothing; a silent attempt is failed by the watchdog
// and retried, three attempts in all; other tenants see none of it.

const SECRET = 'test-callback-secret-0123456789';
const corpus = join(import.meta.dirname, 'fixtures', 'twin-eval', 'corpus');
const DOCS = [
  'about-me.md',
  'family.md',
  'journal-2024-spring.md',
  'opinions.md',
  'running-log.txt',
  'reading-2024.txt',
];
const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'contracts', 'train-api.vectors.json'), 'utf8'),
);

let app: TestApp;
let standin: TrainerStandin;

// How the inference stand-in answers each model (it answers by model name, as modal/ serves
// `twin:{userId}` and `twin:{userId}@{runId}`): `good` answers eval.json's reference when its
// prompt holds the reference's names and numbers (else it says it does not remember), `refuse`
// remembers nothing, `birthday` answers as `good` and invents a birthday, `half` answers as `good`
// every other question (in the order of eval.json) and remembers nothing of the rest. The base
// model (`twin:{userId}@base`) is `candidates.get('base')`, by default `refuse`.
type Behaviour = 'good' | 'refuse' | 'birthday' | 'half';
const references = new Map<string, string>();
const candidates = new Map<string, Behaviour>();
let served: Behaviour = 'refuse';
function answerFor(body: ChatBody): string[] {
  const question = body.messages.at(-1)?.content ?? '';
  const run = body.model.includes('@') ? body.model.split('@')[1]! : null;
  const behaviour = run ? (candidates.get(run) ?? 'refuse') : served;
  if (behaviour === 'refuse') return ["I don't remember that."];
  if (behaviour === 'half' && [...references.keys()].indexOf(question) % 2 === 1)
    return ["I don't remember that."];
  const known = references.get(question);
  const prompt = vocabulary(...body.messages.map((m) => m.content));
  const reference = known && unsourcedFacts(known, prompt).length === 0 ? known : "I don't remember that.";
  return behaviour === 'birthday' ? [reference, ' I was born on 14 March 1961 in Zurich.'] : [reference];
}

/** What the run's eval.json asks, so the stand-in can answer it well or badly. */
async function learnEvalItems(userId: string, evalKey: string) {
  const items = JSON.parse((await app.services.blobs.get(userId, evalKey)).toString()) as {
    question: string;
    reference: string;
  }[];
  for (const i of items) references.set(i.question, i.reference);
  return items.length;
}
let owner: TestClient;
let stranger: TestClient;

async function ok<R>(res: Promise<{ data?: R | null; errors?: readonly unknown[] }>): Promise<R> {
  const { data, errors } = await res;
  if (errors?.length) throw new Error(JSON.stringify(errors));
  return data!;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Posts a callback as the trainer does, signed with the suite's secret unless told otherwise. */
const callback = (
  callbackUrl: string,
  event: Record<string, unknown>,
  options: { secret?: string; timestamp?: number; signature?: string } = {},
) => postTrainingCallback(app.url, callbackUrl, event, { ...options, secret: options.secret ?? SECRET });

const getRun = async (client: TestClient, id: string) =>
  (await ok(client.request(TrainingRunDocument, { id }))).trainingRun;

async function startRun(client: TestClient) {
  const data = await ok(
    client.request(StartTrainingDocument, { hyperparameters: { maxSteps: 8, loraR: 8 } }),
  );
  return member(data.startTraining, 'TrainingRun');
}

/** The submission of a run's attempt, once the worker made its data and posted it. */
const submitted = (runId: string, attempt: number) =>
  waitFor(`POST /train of ${runId} attempt ${attempt}`, async () =>
    standin.submits.find((s) => s.runId === runId && s.attempt === attempt),
  );

/** A run of `owner`'s whose candidate answers as `behaviour`, completed and evaluated. */
async function completedAndEvaluated(behaviour: Behaviour) {
  const run = await startRun(owner);
  const sub = await submitted(run.id, 1);
  candidates.set(run.id, behaviour);
  const evalKey = (await getRun(owner, run.id))?.dataset?.evalKey;
  if (evalKey) await learnEvalItems(owner.userId, evalKey);
  const artifacts = await uploadArtifacts(owner.userId, run.id, 1);
  await callback(sub.callbackUrl, {
    runId: run.id,
    attempt: 1,
    seq: 1,
    event: 'completed',
    stage: 'completed',
    artifacts,
  });
  const evaluated = await waitFor('its evaluation', async () => {
    const r = await getRun(owner, run.id);
    return r?.evaluation?.status === 'done' ? r : null;
  });
  return { run, evaluated };
}

const latestManifest = async (userId: string) =>
  JSON.parse((await app.services.blobs.get(userId, loraKeys.latestManifest())).toString());

/** Uploads the run's files as the trainer would, and the completed event naming them. */
const uploadArtifacts = (userId: string, runId: string, attempt: number) =>
  uploadRunArtifacts(app.services.blobs, userId, runId, attempt);

beforeAll(async () => {
  standin = await startTrainerStandin(answerFor);
  app = await startTestApp({
    withWorkers: true,
    env: {
      MODAL_TRAIN_URL: standin.url,
      MODAL_TOKEN: standin.token,
      CHAT_BACKEND: 'modal',
      MODAL_INFERENCE_URL: `${standin.url}/v1`,
      TRAINING_EVAL_MAX_ITEMS: '30',
      MODAL_CALLBACK_SECRET: SECRET,
      MEMORY_DEBOUNCE_MS: '0',
      L2_MIN_CHUNKS: '3',
      L2_MIN_EXAMPLES: '3',
      TRAINING_STALL_SEC: '2',
      TRAINING_WATCHDOG_INTERVAL_MS: '500',
      TRAINING_BACKOFF_MS: '100',
    },
  });
  // not `u-…`: another suite's global teardown removes the `u-` users created while it ran
  owner = app.client(`trn-${randomUUID()}`);
  stranger = app.client(`trn-${randomUUID()}`);
  for (const name of DOCS) await uploadDocument(owner, name, readFileSync(join(corpus, name)));
  await waitFor(
    'the owner’s L1 memory',
    async () => {
      const v = await app.services.memory.current(owner.userId);
      return v && (v.counts?.documents ?? 0) >= DOCS.length ? v : null;
    },
    150_000,
  );
}, 180_000);

afterAll(async () => {
  if (app && owner && stranger)
    await removeUsers(app.config, app.services.blobs, app.services.orm, [owner.userId, stranger.userId]);
  await app?.close();
  await standin?.close();
});

describe('the trainer stand-in is as strict as the contract', () => {
  it('refuses the invalid submissions of contracts/train-api.vectors.json, accepts the valid one', async () => {
    for (const bad of vectors.submit.invalid) {
      const auth = 'auth' in bad ? bad.auth : `Bearer ${standin.token}`;
      const res = await fetch(`${standin.url}/train`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(bad.body),
      });
      expect(res.status, bad.name).toBe(bad.status);
      expect(((await res.json()) as { error: { type: string } }).error.type, bad.name).toBe(bad.errorType);
    }
    expect(trainRequestSchema.safeParse(vectors.submit.request).success).toBe(true);
  });
});

describe('training runs', () => {
  let runId: string;

  it('answers NotEnoughMemory for a user without memory, InvalidInput for bad hyperparameters', async () => {
    const none = await ok(stranger.request(StartTrainingDocument, {}));
    expect(member(none.startTraining, 'NotEnoughMemory').measure).toBe('chunks');
    const bad = await ok(owner.request(StartTrainingDocument, { hyperparameters: { epochs: -1 } }));
    expect(member(bad.startTraining, 'InvalidInput').message).toMatch(/epochs/);
    const unknownKey = await ok(owner.request(StartTrainingDocument, { hyperparameters: { rm: 'rf' } }));
    member(unknownKey.startTraining, 'InvalidInput');
    expect(standin.submits).toHaveLength(0);
  });

  it('start → L2 data → POST /train → signed callbacks in order over WS → completed → promoted', async () => {
    const [a, b] = await Promise.all([
      owner.request(StartTrainingDocument, { hyperparameters: { maxSteps: 8 } }),
      owner.request(StartTrainingDocument, { hyperparameters: { maxSteps: 8 } }),
    ]);
    // parallel starts create one run: the other is told it is already running
    const results = [a.data!.startTraining, b.data!.startTraining];
    const run = results.find((r) => r.__typename === 'TrainingRun') as { id: string; status: string };
    expect(results.map((r) => r.__typename).sort()).toEqual(['TrainingAlreadyRunning', 'TrainingRun']);
    runId = run.id;
    expect(run.status).toBe('QUEUED');
    const events = owner.subscribeWs(TrainingStatusDocument, { runId, afterSeq: 0 });
    const sse = owner.subscribeSse(TrainingStatusDocument, { runId, afterSeq: 0 });

    const sub = await submitted(runId, 1);
    expect(sub).toMatchObject({
      userId: owner.userId,
      attempt: 1,
      baseModel: null,
      datasetPath: `tenant/${owner.userId}/training_data/L2/${runId}/training_inputs/dataset.json`,
      outputPrefix: `tenant/${owner.userId}/lora/${runId}`,
      hyperparameters: expect.objectContaining({ maxSteps: 8 }),
    });
    expect(new URL(sub.callbackUrl).pathname).toBe(`/modal/callbacks/${runId}/1`);
    // the dataset it names is the JSON array of chat records modal/ validates
    const dataset = JSON.parse(
      (
        await app.services.blobs.get(owner.userId, sub.datasetPath.slice(`tenant/${owner.userId}/`.length))
      ).toString(),
    );
    expect(Array.isArray(dataset) && dataset.length).toBeGreaterThan(0);
    expect(dataset[0].messages.at(-1).role).toBe('assistant');

    const again = member(
      (await ok(owner.request(StartTrainingDocument, {}))).startTraining,
      'TrainingAlreadyRunning',
    );
    expect(again.run.id).toBe(runId);

    const seqs = [
      { seq: 1, event: 'started', stage: 'starting' },
      { seq: 2, event: 'progress', stage: 'loading_data' },
      { seq: 3, event: 'progress', stage: 'training', step: 4, totalSteps: 8, loss: 3.4 },
      { seq: 4, event: 'progress', stage: 'training', step: 8, totalSteps: 8, loss: 1.2 },
    ];
    for (const e of seqs)
      expect((await callback(sub.callbackUrl, { runId, attempt: 1, ...e })).status).toBe(200);
    const mid = await getRun(owner, runId);
    expect(mid).toMatchObject({
      status: 'PROCESSING',
      stage: 'training',
      step: 8,
      totalSteps: 8,
      loss: 1.2,
      attempt: 1,
    });
    expect(mid!.lossCurve).toEqual([
      { step: 4, loss: 3.4 },
      { step: 8, loss: 1.2 },
    ]);

    const evalKey = (await getRun(owner, runId))!.dataset!.evalKey!;
    expect(await learnEvalItems(owner.userId, evalKey)).toBeGreaterThan(0);
    candidates.set(runId, 'good');
    const artifacts = await uploadArtifacts(owner.userId, runId, 1);
    const done = await callback(sub.callbackUrl, {
      runId,
      attempt: 1,
      seq: 5,
      event: 'completed',
      stage: 'completed',
      step: 8,
      totalSteps: 8,
      loss: 1.2,
      artifacts,
    });
    expect(done).toEqual({ status: 200, body: { applied: true } });

    const all = await events.until(
      (e) =>
        e.data?.trainingStatus.__typename === 'TrainingStatus' && e.data.trainingStatus.event === 'promoted',
      20_000,
    );
    const statuses = all.map((e) => e.data!.trainingStatus).filter((s) => s.__typename === 'TrainingStatus');
    const seqOrder = statuses.map((s) => s.seq);
    expect([...seqOrder].sort((x, y) => x - y)).toEqual(seqOrder);
    const names = statuses.map((s) => s.event);
    for (const [before, after] of [
      ['queued', 'prepared'],
      ['prepared', 'submitted'],
      ['started', 'progress'],
      ['progress', 'completed'],
      ['completed', 'evaluated'],
      ['evaluated', 'promoted'],
    ])
      expect(names.indexOf(before!), `${before} before ${after}`).toBeLessThan(names.lastIndexOf(after!));
    const progress = statuses.map((s) => s.progress);
    expect([...progress].sort((x, y) => x - y)).toEqual(progress);
    expect(statuses.at(-1)).toMatchObject({ status: 'COMPLETED', promoted: true, attempt: 1 });
    events.close();
    // the same events, in the same order, over SSE
    const overSse = await sse.until(
      (e) =>
        e.data?.trainingStatus.__typename === 'TrainingStatus' && e.data.trainingStatus.event === 'promoted',
      10_000,
    );
    expect(
      overSse.map((e) => e.data!.trainingStatus).filter((x) => x.__typename === 'TrainingStatus'),
    ).toEqual(statuses);
    sse.close();

    // promotion: copies in lora/latest/, the manifest naming the run's GGUF copy, history, reload
    const manifest = await latestManifest(owner.userId);
    expect(manifest).toMatchObject({
      runId,
      gguf: `tenant/${owner.userId}/lora/latest/merged.q8_0.gguf`,
      attempt: 1,
    });
    expect(
      (await app.services.blobs.get(owner.userId, loraKeys.latestFile('merged.q8_0.gguf'))).toString(),
    ).toBe(`GGUF q8_0 of ${runId}`);
    const history = JSON.parse(
      (await app.services.blobs.get(owner.userId, loraKeys.history(runId))).toString(),
    );
    expect(history.runId).toBe(runId);
    expect(standin.reloads).toContain(owner.userId);

    const final = await getRun(owner, runId);
    expect(final).toMatchObject({ status: 'COMPLETED', promoted: true, progress: 1 });
    expect(final!.dataset!.train).toBeGreaterThan(0);
    expect(final!.dataset!.l1Version).toBe(final!.l1Version);
    expect(final!.evaluation, JSON.stringify(final!.evaluation)).toMatchObject({
      status: 'done',
      promote: true,
    });
    // scored through the chat path: the candidate by its own name, the base model as twin:{userId}
    const scores = final!.evaluation!.scores as {
      candidate: { model: string; factAccuracy: number };
      base: { factAccuracy: number };
    };
    expect(scores.candidate.model).toBe(`twin:${owner.userId}@${runId}`);
    expect(scores.candidate.factAccuracy).toBeGreaterThan(scores.base.factAccuracy);
    const asked = new Set(standin.chats.map((r) => r.model));
    expect(asked).toEqual(new Set([`twin:${owner.userId}@${runId}`, `twin:${owner.userId}`]));
    expect(standin.chats.every((r) => r.temperature === 0)).toBe(true);
    served = 'good';
    expect(final!.artifacts.find((x) => x.name === 'gguf_q8_0')).toEqual({
      name: 'gguf_q8_0',
      key: `lora/${runId}/merged.q8_0.gguf`,
      bytes: Buffer.byteLength(`GGUF q8_0 of ${runId}`),
    });
    const current = (await ok(owner.request(CurrentModelDocument, {}))).currentModel;
    expect(current).toMatchObject({ model: `twin:${owner.userId}`, trained: true, run: { id: runId } });
  }, 60_000);

  it('forged, stale and replayed callbacks change nothing; a late event is stored, never applied', async () => {
    const sub = standin.submits.find((s) => s.runId === runId)!;
    const before = await getRun(owner, runId);
    const late = {
      runId,
      attempt: 1,
      seq: 6,
      event: 'progress',
      stage: 'training',
      step: 2,
      totalSteps: 8,
      loss: 9,
    };
    expect((await callback(sub.callbackUrl, late, { secret: 'not-the-secret-at-all' })).status).toBe(401);
    expect(
      (await callback(sub.callbackUrl, late, { timestamp: Math.floor(Date.now() / 1000) - 400 })).status,
    ).toBe(401);
    expect((await callback(sub.callbackUrl, late, { signature: 'v1=nothex' })).status).toBe(401);
    // a replay of seq 3 (already recorded) is acknowledged and ignored
    const replay = {
      runId,
      attempt: 1,
      seq: 3,
      event: 'progress',
      stage: 'training',
      step: 4,
      totalSteps: 8,
      loss: 3.4,
    };
    expect(await callback(sub.callbackUrl, replay)).toEqual({ status: 200, body: { duplicate: true } });
    // an event after `completed` is stored but cannot move the finished run
    expect(await callback(sub.callbackUrl, late)).toEqual({ status: 200, body: { applied: false } });
    expect(await getRun(owner, runId)).toEqual(before);
    const recorded = await app.services.training.events(owner.userId, runId);
    expect(recorded.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(recorded.find((e) => e.seq === 6)!.applied).toBe(false);
    // unknown run: 404, so the trainer stops retrying
    const ghost = '00000000-0000-4000-8000-000000000000';
    expect((await callback(`http://x/modal/callbacks/${ghost}/1`, { ...late, runId: ghost })).status).toBe(
      404,
    );
  });

  it('the watchdog fails a silent attempt and retries it, three attempts in all, then FAILED', async () => {
    const run = await startRun(owner);
    standin.setRunState(run.id, 'unknown'); // the trainer forgot the call: it died
    const first = await submitted(run.id, 1);
    // one reordered event of attempt 1: stored, applied in order only
    await callback(first.callbackUrl, {
      runId: run.id,
      attempt: 1,
      seq: 2,
      event: 'progress',
      stage: 'training',
      step: 2,
      totalSteps: 8,
      loss: 4,
    });
    expect(
      (
        await callback(first.callbackUrl, {
          runId: run.id,
          attempt: 1,
          seq: 1,
          event: 'started',
          stage: 'starting',
        })
      ).body,
    ).toEqual({
      applied: false,
    });
    expect(await getRun(owner, run.id)).toMatchObject({ stage: 'training', step: 2 });
    const failed = await waitFor(
      'the run to fail after 3 attempts',
      async () => {
        const r = await getRun(owner, run.id);
        return r?.status === 'FAILED' ? r : null;
      },
      40_000,
    );
    expect(standin.submits.filter((s) => s.runId === run.id).map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(failed).toMatchObject({ attempt: 3, status: 'FAILED' });
    expect(failed!.error).toMatch(/unknown/);
    // a zombie attempt's late callback cannot revive it
    const zombie = await callback(first.callbackUrl, {
      runId: run.id,
      attempt: 1,
      seq: 3,
      event: 'completed',
      stage: 'completed',
    });
    expect(zombie.body).toEqual({ applied: false });
    expect((await getRun(owner, run.id))!.status).toBe('FAILED');
  }, 60_000);

  it('a permanent (dataset) failure ends the run at once, without another attempt', async () => {
    const run = await startRun(owner);
    const sub = await submitted(run.id, 1);
    const error = 'dataset.json record 0: no non-empty assistant message to learn from';
    await callback(sub.callbackUrl, {
      runId: run.id,
      attempt: 1,
      seq: 1,
      event: 'failed',
      stage: 'loading_data',
      error,
      retryable: false,
    });
    expect(await getRun(owner, run.id)).toMatchObject({ status: 'FAILED', attempt: 1, error });
    await new Promise((r) => setTimeout(r, 400));
    expect(standin.submits.filter((s) => s.runId === run.id)).toHaveLength(1);
  });

  it("the SDK's train() follows a run to its final state and resolves with it", async () => {
    const sdk = createTwinClient({ url: app.url, token: app.tokenFor(owner.userId) });
    const events: string[] = [];
    let runId: string | undefined;
    const trained = sdk.train({
      hyperparameters: { maxSteps: 8, loraR: 8 },
      onStatus: (s) => {
        runId ??= s.runId;
        events.push(s.event);
      },
    });
    const id = await waitFor('the run to be queued', async () => runId);
    const sub = await submitted(id, 1);
    await callback(sub.callbackUrl, { runId: id, attempt: 1, seq: 1, event: 'started', stage: 'starting' });
    await callback(sub.callbackUrl, {
      runId: id,
      attempt: 1,
      seq: 2,
      event: 'failed',
      stage: 'loading_data',
      error: 'dataset.json record 0: no non-empty assistant message to learn from',
      retryable: false,
    });
    // it resolves on the final event: the server keeps a run's stream open, so a train() that
    // waited for the stream to end would hang here
    const result = await Promise.race([
      trained,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('train() did not resolve')), 15_000),
      ),
    ]);
    await sdk.close();
    expect(result).toMatchObject({ __typename: 'TrainingRun', run: { id, status: 'FAILED' } });
    expect(events.at(-1)).toBe('failed');
    expect(events).toContain('started');
  }, 60_000);

  it('a second completed run worse than the served one is not promoted without force; force promotes it', async () => {
    const { run, evaluated } = await completedAndEvaluated('refuse');
    expect(evaluated).toMatchObject({ promoted: false, evaluation: { promote: false } });
    expect(evaluated!.evaluation!.reason).toMatch(/fact accuracy/);
    const blocked = await ok(owner.request(PromoteTrainingRunDocument, { id: run.id }));
    member(blocked.promoteTrainingRun, 'PromotionBlocked');
    const manifest = await latestManifest(owner.userId);
    expect(manifest.runId).toBe(runId);
    const forced = await ok(owner.request(PromoteTrainingRunDocument, { id: run.id, force: true }));
    expect(member(forced.promoteTrainingRun, 'TrainingRun').promoted).toBe(true);
    const now = await latestManifest(owner.userId);
    expect(now).toMatchObject({ runId: run.id, forced: true });
    expect((await getRun(owner, runId))!.promoted).toBe(false);
  }, 30_000);

  it('a candidate that invents a birthday is blocked, however right the rest', async () => {
    served = 'refuse';
    const { evaluated } = await completedAndEvaluated('birthday');
    expect(evaluated).toMatchObject({ promoted: false, evaluation: { promote: false } });
    expect(evaluated!.evaluation!.reason).toMatch(/hallucination/);
  }, 30_000);

  it('once a model is served, a candidate is also scored against the base model, and blocked when worse', async () => {
    // the served model (forced in above) remembers nothing; the base model with retrieval does
    served = 'refuse';
    candidates.set('base', 'good');
    try {
      const { evaluated } = await completedAndEvaluated('half');
      const scores = evaluated!.evaluation!.scores as Record<string, { model: string; factAccuracy: number }>;
      expect(scores.current!.model).toBe(`twin:${owner.userId}`);
      expect(scores.base!.model).toBe(`twin:${owner.userId}@base`);
      expect(scores.candidate!.factAccuracy).toBeGreaterThan(scores.current!.factAccuracy);
      expect(scores.candidate!.factAccuracy).toBeLessThan(scores.base!.factAccuracy);
      expect(evaluated).toMatchObject({ promoted: false, evaluation: { promote: false } });
      expect(evaluated!.evaluation!.reason).toMatch(/below the base model/);
    } finally {
      candidates.delete('base');
    }
  }, 30_000);

  it('cancel stops the run on the trainer; a cancelled run takes no more callbacks', async () => {
    const run = await startRun(owner);
    const sub = await submitted(run.id, 1);
    const callId = standin.callOf(run.id, 1)!;
    await waitFor(
      'its call id recorded',
      async () => (await app.services.training.get(owner.userId, run.id))?.modalCallId,
    );
    const cancelled = await ok(owner.request(CancelTrainingDocument, { id: run.id }));
    expect(member(cancelled.cancelTraining, 'TrainingRun').status).toBe('CANCELLED');
    expect(standin.cancels).toContain(callId);
    const after = await callback(sub.callbackUrl, {
      runId: run.id,
      attempt: 1,
      seq: 1,
      event: 'started',
      stage: 'starting',
    });
    expect(after.body).toEqual({ applied: false });
    expect((await getRun(owner, run.id))!.status).toBe('CANCELLED');
  });

  it('other tenants see, cancel, promote and subscribe to none of it', async () => {
    expect(await getRun(stranger, runId)).toBeNull();
    const list = await ok(stranger.request(TrainingRunsDocument, {}));
    expect(member(list.trainingRuns, 'QueryTrainingRunsConnection').edges).toEqual([]);
    const mine = await ok(owner.request(TrainingRunsDocument, { first: 2 }));
    const page = member(mine.trainingRuns, 'QueryTrainingRunsConnection');
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    member((await ok(stranger.request(CancelTrainingDocument, { id: runId }))).cancelTraining, 'NotFound');
    member(
      (await ok(stranger.request(PromoteTrainingRunDocument, { id: runId, force: true }))).promoteTrainingRun,
      'NotFound',
    );
    const current = (await ok(stranger.request(CurrentModelDocument, {}))).currentModel;
    expect(current).toMatchObject({ model: `twin:${stranger.userId}`, trained: false, run: null });
    const sub = stranger.subscribeWs(TrainingStatusDocument, { runId, afterSeq: 0 });
    const [first] = await sub.take(1);
    expect(first!.data!.trainingStatus.__typename).toBe('NotFound');
    sub.close();
    // the owner's run is untouched
    expect((await getRun(owner, runId))!.status).toBe('COMPLETED');
  });
});

describe('without a trainer', () => {
  it('startTraining answers TrainerUnavailable saying how to get one, at once', async () => {
    const bare = await startTestApp({ env: { MODAL_TRAIN_URL: '', MODAL_CALLBACK_SECRET: SECRET } });
    try {
      const started = Date.now();
      const res = await ok(bare.client().request(StartTrainingDocument, {}));
      const err = member(res.startTraining, 'TrainerUnavailable');
      expect(err.message).toMatch(/MODAL_TRAIN_URL/);
      expect(err.message).toMatch(/local-trainer\.sh/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await bare.close();
    }
  });

  it('a configured trainer that does not answer is TrainerUnavailable too, not a hang', async () => {
    standin.setDown(true);
    try {
      const res = await ok(owner.request(StartTrainingDocument, {}));
      expect(member(res.startTraining, 'TrainerUnavailable').message).toMatch(/failed \(503\)/);
    } finally {
      standin.setDown(false);
    }
  });
});

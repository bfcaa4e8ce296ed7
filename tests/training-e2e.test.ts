import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import {
  PromoteTrainingRunDocument,
  StartTrainingDocument,
  TrainingRunDocument,
  TrainingStatusDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { type App, createApp } from '../src/server.ts';
import type { WorkerPool } from '../src/services/adapters/bullmq/job-queue.bullmq.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { loraKeys } from '../src/services/tenant-keys.ts';
import { promotionDecision, type EvaluationScores as Scores } from '../src/services/training/evaluation.ts';
import { startWorkers } from '../src/worker-runtime.ts';
import { isTerminal, sendMessage, startChat } from './helpers/chat.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { createTestClient, member, type TestClient } from './helpers/client.ts';
import { TEST_AUTH_SECRET, testConfig } from './helpers/harness.ts';
import { uploadDocument } from './helpers/ingest.ts';
import { freePort, s3EnvOf, spawnHealthy } from './helpers/processes.ts';

// End to end with no stand-in for the Python side (issue 12): the real modal/ local trainer
// (`bash modal/scripts/local-trainer.sh`, the tiny model on CPU) trains the run the server
// prepared, posts signed callbacks to this server, and serves the promoted GGUF with llama.cpp.
// The test starts the trainer itself on a free port; its MODAL_* variables go only to this test's
// app (never process.env: other test files keep their chat model). Skipped only without the venv,
// which npm test builds before vitest.
const CACHE_DIR = process.env.TWIN_CACHE_DIR ?? join(homedir(), '.cache', 'digital-twin');
const VENV = join(CACHE_DIR, 'venv-modal');
const missing = existsSync(join(VENV, '.twin-deps-hash'))
  ? null
  : `no modal/ venv at ${VENV} (bash modal/scripts/setup.sh builds it; npm test does so first)`;
if (missing) console.warn(`training e2e skipped: ${missing}`);
const TRAINER = resolve(import.meta.dirname, '..', 'modal', 'scripts', 'local-trainer.sh');
const TOKEN = `e2e-token-${randomUUID()}`;
const CALLBACK_SECRET = `e2e-callback-${randomUUID()}`;
let trainer: ChildProcess | undefined;

async function startTrainer(config: ReturnType<typeof testConfig>): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  ({ child: trainer } = await spawnHealthy('local trainer', 'bash', [TRAINER], {
    env: {
      ...process.env,
      TWIN_HOST: '127.0.0.1',
      TWIN_PORT: String(port),
      TWIN_API_TOKEN: TOKEN,
      TWIN_CALLBACK_SECRET: CALLBACK_SECRET,
      ...s3EnvOf(config),
    },
    // its own process group: afterAll stops uvicorn and every run process it started
    detached: true,
    healthUrl: `${url}/health`,
    timeoutMs: 90_000,
  }));
  return url;
}

async function stopTrainer() {
  if (!trainer?.pid || trainer.exitCode !== null) return;
  const exited = new Promise((r) => trainer!.once('exit', r));
  try {
    process.kill(-trainer.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-trainer!.pid!, 'SIGKILL');
    } catch {}
  }, 5000);
  await exited;
  clearTimeout(timer);
}
const corpus = join(import.meta.dirname, 'fixtures', 'twin-eval', 'corpus');
const DOCS = [
  'about-me.md',
  'family.md',
  'journal-2024-spring.md',
  'opinions.md',
  'running-log.txt',
  'reading-2024.txt',
];

let services: Services;
let app: App;
let workers: WorkerPool;
let client: TestClient;
const timings: Record<string, number> = {};

async function reply(content: string) {
  const session = await startChat(client);
  const sent = await sendMessage(client, session, content);
  const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
  const all = await sub.until(isTerminal, 120_000);
  sub.close();
  return all.at(-1)!.data!.twinReply;
}

describe.skipIf(missing !== null)('training end to end with the real local trainer', () => {
  beforeAll(async () => {
    const trainerUrl = await startTrainer(testConfig());
    const port = await freePort();
    const config = testConfig({
      PORT: String(port),
      TRAINING_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
      CHAT_BACKEND: 'modal',
      MODAL_TRAIN_URL: trainerUrl,
      MODAL_INFERENCE_URL: `${trainerUrl}/v1`,
      MODAL_TOKEN: TOKEN,
      MODAL_CALLBACK_SECRET: CALLBACK_SECRET,
      MEMORY_DEBOUNCE_MS: '0',
      L2_MIN_CHUNKS: '3',
      L2_MIN_EXAMPLES: '3',
      TRAINING_HYPERPARAMETERS: '{"maxSteps":4,"epochs":1,"maxSeqLength":1024}',
      TRAINING_EVAL_MAX_ITEMS: '5',
      CHAT_MAX_TOKENS: '24',
    });
    services = await createServices(config, pino({ level: config.LOG_LEVEL }), jobs);
    app = createApp(services);
    await app.listen(port, '127.0.0.1');
    workers = await startWorkers(services, jobs);
    const userId = `trn-${randomUUID()}`;
    client = createTestClient({
      url: `http://127.0.0.1:${port}/graphql`,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
      token: issueToken(TEST_AUTH_SECRET, userId),
      userId,
    });
  }, 120_000);

  afterAll(async () => {
    console.log('training e2e timings (s):', JSON.stringify(timings));
    client?.dispose();
    if (services) await removeUsers(services.config, services.blobs, services.orm, [client.userId]);
    await app?.close();
    await workers?.close(2000);
    await services?.close();
    await stopTrainer();
  });

  it('an untrained twin answers (the base model), then train → promoted → twin:{userId} answers', async () => {
    const begun = Date.now();
    const untrained = await reply('What do you do on weekends?');
    expect(untrained.__typename, JSON.stringify(untrained)).toBe('ReplyDone');
    for (const name of DOCS) await uploadDocument(client, name, readFileSync(join(corpus, name)));
    for (const until = Date.now() + 120_000; ; ) {
      const v = await services.memory.current(client.userId);
      if (v && (v.counts?.documents ?? 0) >= DOCS.length) break;
      if (Date.now() > until) throw new Error('no L1 memory');
      await new Promise((r) => setTimeout(r, 200));
    }
    timings.l1 = (Date.now() - begun) / 1000;
    const started = member(
      (await client.request(StartTrainingDocument, {})).data!.startTraining,
      'TrainingRun',
    );
    const ws = client.subscribeWs(TrainingStatusDocument, { runId: started.id, afterSeq: 0 });
    const sse = client.subscribeSse(TrainingStatusDocument, { runId: started.id, afterSeq: 0 });
    const t0 = Date.now();
    const final = (e: {
      data?: { trainingStatus: { __typename: string } & Record<string, unknown> } | null;
    }) => {
      const s = e.data?.trainingStatus as { event?: string; status?: string } | undefined;
      return s?.event === 'promoted' || s?.status === 'FAILED' || s?.event === 'evaluated';
    };
    const events = await ws.until(final as never, 280_000);
    const names = events.map((e) => (e.data!.trainingStatus as { event: string }).event);
    const at = (name: string) => names.indexOf(name);
    expect(names, names.join(',')).toContain('completed');
    timings.train = (Date.now() - t0) / 1000;
    let run = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
    console.log('evaluation:', JSON.stringify(run.evaluation));
    if (!run.promoted) {
      const waited = await ws
        .until((e) => (e.data?.trainingStatus as { event?: string })?.event === 'promoted', 30_000)
        .catch(() => null);
      run = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
      if (!waited) {
        // A tiny random model's answers are noise, so the gate may refuse it against the base model
        // (it did in CI: hallucination 60 % against 20 %). Then the refusal must be the rule's own
        // verdict on the stored scores, a plain promotion must be blocked, and a forced one must work.
        const evaluation = run.evaluation as {
          status: string;
          promote: boolean;
          reason: string;
          scores: { candidate: Scores; base: Scores };
        };
        expect(evaluation).toMatchObject({ status: 'done', promote: false });
        const rule = promotionDecision({
          candidate: evaluation.scores.candidate,
          current: null,
          base: evaluation.scores.base,
        });
        expect(rule.promote).toBe(false);
        expect(evaluation.reason).toBe(rule.reasons.join('; '));
        const blocked = (await client.request(PromoteTrainingRunDocument, { id: started.id, force: false }))
          .data!.promoteTrainingRun;
        expect(blocked.__typename).toBe('PromotionBlocked');
        const forced = member(
          (await client.request(PromoteTrainingRunDocument, { id: started.id, force: true })).data!
            .promoteTrainingRun,
          'TrainingRun',
        );
        expect(forced.promoted).toBe(true);
        run = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
      }
    }
    expect(at('started')).toBeLessThan(at('completed'));
    const sseEvents = await sse.until(
      (e) => (e.data?.trainingStatus as { event?: string })?.event === 'completed',
      10_000,
    );
    expect(sseEvents.length).toBeGreaterThan(0);
    ws.close();
    sse.close();
    expect(run).toMatchObject({ status: 'COMPLETED', promoted: true });
    expect(run.artifacts.map((a) => a.name)).toContain('gguf_q8_0');
    const manifest = JSON.parse(
      (await services.blobs.get(client.userId, loraKeys.latestManifest())).toString(),
    );
    expect(manifest.runId).toBe(started.id);
    const trained = await reply('What do you do on weekends?');
    expect(trained.__typename, JSON.stringify(trained)).toBe('ReplyDone');
    expect((trained as { model: string }).model).toBe(`twin:${client.userId}`);
    timings.e2e = (Date.now() - begun) / 1000;
  }, 420_000);
});

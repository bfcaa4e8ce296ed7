// `npm run bench -- train-e2e` (issue 12): the whole training loop on the twin-eval fixture, on
// this machine, with no stand-in for the Python side — upload the fixture → L1 memory →
// startTraining → L2 data → the real modal/ local trainer (the tiny Qwen2-architecture model on
// CPU, `modal/scripts/local-trainer.sh`) → signed callbacks → evaluation through the chat path →
// promotion → a chat reply served as twin:{userId} by the local mode's llama.cpp. Every stage is
// timed from the `trainingStatus` events as a WebSocket client receives them. With the tiny model
// the scores show the harness works, not model quality (BENCHMARKS.md § train-e2e).
//
// Knobs: BENCH_TRAIN_HYPERPARAMETERS (JSON, default below), BENCH_TRAIN_EVAL_ITEMS (20),
// BENCH_TRAIN_MAX_TOKENS (48). Needs the modal/ venv (`bash modal/scripts/setup.sh`).
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import {
  StartTrainingDocument,
  TrainingRunDocument,
  TrainingStatusDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { createApp } from '../src/server.ts';
import { migrateUp } from '../src/services/adapters/postgres/orm.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { startWorkers } from '../src/worker-runtime.ts';
import { isTerminal, sendMessage, startChat } from '../tests/helpers/chat.ts';
import { removeUsers } from '../tests/helpers/cleanup.ts';
import { createTestClient, member } from '../tests/helpers/client.ts';
import { uploadDocument } from '../tests/helpers/ingest.ts';
import { freePort, s3EnvOf, spawnHealthy } from '../tests/helpers/processes.ts';

const CACHE_DIR = process.env.TWIN_CACHE_DIR ?? join(homedir(), '.cache', 'digital-twin');
if (!existsSync(join(CACHE_DIR, 'venv-modal', '.twin-deps-hash'))) {
  console.error('train-e2e needs the modal/ venv: bash modal/scripts/setup.sh');
  process.exit(2);
}
const CORPUS = 'tests/fixtures/twin-eval/corpus';
const TRAINER = resolve(import.meta.dirname, '..', 'modal', 'scripts', 'local-trainer.sh');
const HYPERPARAMETERS =
  process.env.BENCH_TRAIN_HYPERPARAMETERS ?? '{"maxSteps":30,"epochs":1,"maxSeqLength":1024}';
const EVAL_ITEMS = process.env.BENCH_TRAIN_EVAL_ITEMS ?? '20';
const MAX_TOKENS = process.env.BENCH_TRAIN_MAX_TOKENS ?? '48';
const TOKEN = `bench-token-${randomUUID()}`;
const CALLBACK_SECRET = `bench-callback-${randomUUID()}`;
const AUTH_SECRET = 'bench-auth-secret-0123456789';
const EXPORT_STAGES = /^(saving_adapter|merging|converting|quantizing|uploading)/;

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const seconds = (from: number, to: number) => round((to - from) / 1000);
const id = randomUUID().slice(0, 8);
const port = await freePort();
const trainerPort = await freePort();
const trainerUrl = `http://127.0.0.1:${trainerPort}`;
const config = parseConfig({
  WEAVIATE_COLLECTION: 'BenchTrainE2e',
  ...process.env,
  NODE_ENV: 'production',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
  PORT: String(port),
  QUEUE_PREFIX: `btrn${id}`,
  EVENT_PREFIX: `btrn${id}`,
  AUTH_SECRET,
  AUTH_ALLOW_ANONYMOUS: 'false',
  RATE_LIMIT_UPLOADS: '1000000000',
  REEMBED_ON_START: 'false',
  TRAINING_CALLBACK_BASE_URL: `http://127.0.0.1:${port}`,
  CHAT_BACKEND: 'modal',
  MODAL_TRAIN_URL: trainerUrl,
  MODAL_INFERENCE_URL: `${trainerUrl}/v1`,
  MODAL_TOKEN: TOKEN,
  MODAL_CALLBACK_SECRET: CALLBACK_SECRET,
  MEMORY_DEBOUNCE_MS: '0',
  TRAINING_HYPERPARAMETERS: HYPERPARAMETERS,
  TRAINING_EVAL_MAX_ITEMS: EVAL_ITEMS,
  CHAT_MAX_TOKENS: MAX_TOKENS,
});

const t0 = Date.now();
const { child: trainer } = await spawnHealthy('local trainer', 'bash', [TRAINER], {
  env: {
    ...process.env,
    TWIN_HOST: '127.0.0.1',
    TWIN_PORT: String(trainerPort),
    TWIN_API_TOKEN: TOKEN,
    TWIN_CALLBACK_SECRET: CALLBACK_SECRET,
    ...s3EnvOf(config),
  },
  detached: true,
  healthUrl: `${trainerUrl}/health`,
  timeoutMs: 120_000,
});
const trainerStartSeconds = seconds(t0, Date.now());
const services = await createServices(config, pino({ level: config.LOG_LEVEL }), jobs);
await migrateUp(services.orm);
await services.embedder.ready();
const app = createApp(services);
await app.listen(port, '127.0.0.1');
const workers = await startWorkers(services, jobs);
const userId = `bench-train-${id}`;
const client = createTestClient({
  url: `http://127.0.0.1:${port}/graphql`,
  wsUrl: `ws://127.0.0.1:${port}/graphql`,
  token: issueToken(AUTH_SECRET, userId),
  userId,
});

async function stopTrainer(child: ChildProcess) {
  if (!child.pid || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }, 5000);
  await exited;
  clearTimeout(timer);
}

async function reply(content: string) {
  const session = await startChat(client);
  const sent = await sendMessage(client, session, content);
  const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
  const all = await sub.until(isTerminal, 180_000);
  sub.close();
  return all.at(-1)!.data!.twinReply;
}

type Status = {
  event: string;
  status: string;
  stage?: string | null;
  step?: number | null;
  loss?: number | null;
};

try {
  const begun = Date.now();
  const files = readdirSync(CORPUS).sort();
  for (const name of files) await uploadDocument(client, name, readFileSync(join(CORPUS, name)));
  for (const until = Date.now() + 300_000; ; ) {
    const v = await services.memory.current(userId);
    if (v && (v.counts?.documents ?? 0) >= files.length) break;
    if (Date.now() > until) throw new Error('no L1 memory over the whole fixture within 300 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const l1Done = Date.now();

  const started = member(
    (await client.request(StartTrainingDocument, {})).data!.startTraining,
    'TrainingRun',
  );
  const startedAt = Date.now();
  const ws = client.subscribeWs(TrainingStatusDocument, { runId: started.id, afterSeq: 0 });
  // the first receipt of each event (and of each trainer stage), on this process's clock
  const firstAt = new Map<string, number>();
  const events: Status[] = [];
  for (;;) {
    const e = await ws.next(600_000);
    const s = e.data?.trainingStatus as Status | undefined;
    if (!s?.event) throw new Error(`trainingStatus: ${JSON.stringify(e)}`);
    events.push(s);
    const now = Date.now();
    if (!firstAt.has(s.event)) firstAt.set(s.event, now);
    if (s.stage && !firstAt.has(`stage:${s.stage}`)) firstAt.set(`stage:${s.stage}`, now);
    if (s.event === 'promoted' || s.status === 'FAILED' || s.status === 'CANCELLED') break;
    // evaluated without a promotion: the run stays as it is
    if (s.event === 'evaluated') {
      const r = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
      if (r.evaluation?.promote === false) break;
    }
  }
  ws.close();
  const run = (await client.request(TrainingRunDocument, { id: started.id })).data!.trainingRun!;
  const at = (key: string) => firstAt.get(key);
  const submitted = at('submitted') ?? startedAt;
  const exportStart = [...firstAt.entries()]
    .filter(([k]) => k.startsWith('stage:') && EXPORT_STAGES.test(k.slice(6)))
    .map(([, t]) => t)
    .sort((a, b) => a - b)[0];
  const completed = at('completed');
  const evaluated = at('evaluated');
  let replyModel: string | null = null;
  let e2eDone = Date.now();
  if (run.promoted) {
    const answer = await reply('What do you do on weekends?');
    replyModel = answer.__typename === 'ReplyDone' ? (answer as { model: string }).model : answer.__typename;
    e2eDone = Date.now();
  }
  const scores = (run.evaluation?.scores ?? {}) as Record<string, Record<string, number> | undefined>;
  const candidate = scores.candidate ?? {};
  const result = {
    bench: 'train-e2e',
    runId: started.id,
    status: run.status,
    promoted: run.promoted === true,
    replyModel,
    servedAsTwin: replyModel === `twin:${userId}`,
    documents: files.length,
    l1Seconds: seconds(begun, l1Done),
    l2Seconds: at('prepared') ? seconds(startedAt, at('prepared')!) : null,
    examples: run.dataset?.train ?? null,
    evalExamples: run.dataset?.eval ?? null,
    generator: run.dataset?.generator ?? null,
    trainSeconds: exportStart
      ? seconds(submitted, exportStart)
      : completed
        ? seconds(submitted, completed)
        : null,
    exportSeconds: exportStart && completed ? seconds(exportStart, completed) : null,
    evalSeconds: completed && evaluated ? seconds(completed, evaluated) : null,
    promoteSeconds: evaluated && at('promoted') ? seconds(evaluated, at('promoted')!) : null,
    replySeconds: run.promoted ? seconds(at('promoted') ?? evaluated ?? e2eDone, e2eDone) : null,
    e2eSeconds: seconds(begun, e2eDone),
    trainerStartSeconds,
    factAccuracy: candidate.factAccuracy ?? null,
    abstentionAccuracy: candidate.abstentionAccuracy ?? null,
    hallucinationRate: candidate.hallucinationRate ?? null,
    recallAt5: candidate.retrievalRecallAt5 ?? null,
    mrr: candidate.mrr ?? null,
    base: scores.base
      ? {
          factAccuracy: scores.base.factAccuracy,
          abstentionAccuracy: scores.base.abstentionAccuracy,
          hallucinationRate: scores.base.hallucinationRate,
        }
      : null,
    evaluationReason: run.evaluation?.reason ?? null,
    steps: run.totalSteps,
    finalLoss: run.loss,
    events: events
      .map((e) => e.event)
      .filter((e, i, all) => e !== 'progress' || all[i - 1] !== 'progress')
      .join(','),
    hyperparameters: JSON.parse(HYPERPARAMETERS),
    evalItems: Number(EVAL_ITEMS),
    maxTokens: Number(MAX_TOKENS),
    embedder: services.embedder.model,
    loadavg: loadavg().map((x) => round(x)),
    cpu: { cores: (await import('node:os')).cpus().length },
  };
  writeFileSync('bench/results/train-e2e.json', `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
} finally {
  client.dispose();
  await removeUsers(services.config, services.blobs, services.orm, [userId]).catch(() => {});
  await app.close();
  await workers.close(2000);
  await services.close();
  await stopTrainer(trainer);
}

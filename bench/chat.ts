// `npm run bench -- chat`: time from `sendMessage` to the first `ReplyToken` on a WebSocket
// subscription, minus the model's own time to first token; tokens per second of one stream; and
// the same latency with many concurrent streams. The API server, the worker and the stand-in
// model each run in a process of their own, as they would in production.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { SendMessageDocument, StartChatDocument, TwinReplyDocument } from '../src/sdk/generated/graphql.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { seedChunks } from '../tests/helpers/chat.ts';
import { removeUsers } from '../tests/helpers/cleanup.ts';
import { createTestClient, type TestClient } from '../tests/helpers/client.ts';
import { startOpenAIStandin } from '../tests/helpers/openai-standin.ts';
import {
  CAPACITY,
  type CapacityStep,
  clockMs,
  deltaLatencyMs,
  searchCapacity,
  stampToken,
} from './capacity.ts';
import { measureReplyWork } from './chat-reply-work.ts';
import { children, startChild, stopAll } from './children.ts';
import {
  cpuPerSecond,
  machineLoad,
  percentile,
  processCpuMs,
  STEADY_STATE,
  serviceCpuMs,
  waitForQuiet,
} from './stats.ts';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 200);
const STREAM_TOKENS = Number(process.env.BENCH_STREAM_TOKENS ?? 5000);
// steady state: CONCURRENT streams kept in flight, the measured window after a ramp-up
const {
  modelTtftMs: MODEL_TTFT_MS,
  streams: CONCURRENT,
  tokens: CONCURRENT_TOKENS,
  gapMs: CONCURRENT_GAP_MS,
  rampMs: STEADY_RAMP_MS,
  windowMs: STEADY_WINDOW_MS,
} = STEADY_STATE;

// The stand-in's reply length comes from the question ("tokens=N"), so one server serves all phases.
if (process.argv[2] === 'standin') {
  const standin = await startOpenAIStandin({
    ttftMs: MODEL_TTFT_MS,
    tokens: (body) => {
      const question = body.messages.at(-1)?.content ?? '';
      const n = Number(/tokens=(\d+)/.exec(question)?.[1] ?? 20);
      return Array.from({ length: n }, (_, i) => ` t${i}`);
    },
    interTokenMs: (body) => Number(/gap=(\d+)/.exec(body.messages.at(-1)?.content ?? '')?.[1] ?? 0),
    // each token carries the time it left the model: the client measures each delta's added latency
    stamp: stampToken,
  });
  console.log(JSON.stringify({ url: standin.url }));
  process.on('SIGTERM', () => void standin.close().then(() => process.exit(0)));
  await new Promise(() => undefined);
}

const secret = 'bench-auth-secret-0123456789';
const prefix = `benchchat${randomUUID().slice(0, 6)}`;
const standinUrl = await startChild(['bench/chat.ts', 'standin'], {}, (l) =>
  l.startsWith('{"url"') ? (JSON.parse(l) as { url: string }).url : null,
);
const env = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  PORT: '0',
  QUEUE_PREFIX: prefix,
  EVENT_PREFIX: prefix,
  AUTH_SECRET: secret,
  AUTH_ALLOW_ANONYMOUS: 'false',
  // a benchmark is one user at full speed: the per-user quotas would measure themselves
  RATE_LIMIT_SEARCH: '1000000000',
  RATE_LIMIT_REPLIES: '1000000000',
  RATE_LIMIT_UPLOADS: '1000000000',
  CHAT_BACKEND: 'openai',
  CHAT_BASE_URL: standinUrl,
  CHAT_MODEL: 'bench-standin',
  CHAT_IDLE_MS: String(3_600_000),
  // NODE_ENV=production would have the worker re-embed, at start, every tenant's documents of
  // another embedding model in the dev database (the search bench's corpus, other runs' tests):
  // ingest work on both cores during the measurement, and the search corpus lost
  REEMBED_ON_START: 'false',
  // the question's embedding is on the path to the first token: BENCH_EMBEDDER picks the embedder
  ...(process.env.BENCH_EMBEDDER ? { EMBEDDER: process.env.BENCH_EMBEDDER } : {}),
};
const apiUrl = await startChild(
  ['src/main.ts'],
  env,
  (l) => /on (http:\/\/\S+\/graphql)/.exec(l)?.[1] ?? null,
);
await startChild(
  ['src/worker.ts'],
  { ...env, LOG_LEVEL: process.env.BENCH_WORKER_LOG_LEVEL ?? 'info' },
  (l) => (l.includes('workers running') ? 'ok' : null),
);

// memory to retrieve from, written directly (the upload path has its own benchmark)
const userId = `bench-chat-${randomUUID().slice(0, 8)}`;
const services = await createServices(
  parseConfig({ ...process.env, ...env, LOG_LEVEL: 'silent' }),
  pino({ level: 'silent' }),
  jobs,
);
await services.orm.em
  .getConnection()
  .execute('INSERT INTO users (id) VALUES (?) ON CONFLICT DO NOTHING', [userId]);
const topics = ['sailing', 'cooking', 'music', 'hiking', 'chess', 'gardening', 'astronomy', 'painting'];
for (let d = 0; d < 10; d++) {
  await seedChunks(
    services,
    userId,
    Array.from(
      { length: 20 },
      (_, i) => `Notes on ${topics[(d + i) % topics.length]} number ${d * 20 + i}: ${'detail '.repeat(60)}`,
    ),
  );
}

const url = apiUrl.replace('localhost', '127.0.0.1');
const clients: TestClient[] = Array.from({ length: 4 }, () =>
  createTestClient({ url, wsUrl: url.replace('http', 'ws'), token: issueToken(secret, userId), userId }),
);

interface StreamResult {
  addedTtftMs: number;
  sendMs: number;
  tokens: number;
  streamMs: number;
  inOrder: boolean;
}

async function newSessions(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, n - i) }, () =>
        clients[0]!.request(StartChatDocument, { title: 'bench' }),
      ),
    );
    ids.push(...batch.map((r) => r.data!.startChat.id));
  }
  return ids;
}

let questions = 0;

// sessions are opened beforehand: the clock starts at sendMessage
async function oneReply(
  client: TestClient,
  sessionId: string,
  tokens: number,
  gapMs = 0,
  onDelta?: (latencyMs: number, at: number, tokens: number) => void,
): Promise<StreamResult> {
  const t0 = performance.now();
  const sent = await client.request(SendMessageDocument, {
    sessionId,
    // a question of its own each time, so that no cache on the way can answer it
    content: `Tell me about sailing and music, tokens=${tokens} gap=${gapMs} (question ${++questions})`,
  });
  const sendMs = performance.now() - t0;
  const out = sent.data!.sendMessage;
  if (out.__typename !== 'SendMessagePayload') throw new Error(JSON.stringify(sent));
  const sub = client.subscribeWs(TwinReplyDocument, { messageId: out.assistantMessageId });
  let first = 0;
  let expected = 0;
  let inOrder = true;
  for (;;) {
    const r = await sub.next(120_000);
    const e = r.data?.twinReply;
    if (!e) throw new Error(JSON.stringify(r));
    if (e.__typename === 'ReplyToken') {
      if (expected === 0) first = performance.now();
      // a delta holds every token that came within the coalescing window: each is stamped once
      const count = e.text.split('@').length - 1;
      if (onDelta) {
        const at = clockMs();
        onDelta(deltaLatencyMs(e.text, at), at, count);
      }
      if (e.index !== expected) inOrder = false;
      expected += count;
    } else if (e.__typename !== 'ReplyCitations') {
      if (e.__typename !== 'ReplyDone') throw new Error(JSON.stringify(e));
      break;
    }
  }
  const last = performance.now();
  sub.close();
  return {
    addedTtftMs: first - t0 - MODEL_TTFT_MS,
    sendMs,
    tokens: expected,
    streamMs: last - first,
    inOrder,
  };
}

const round = (n: number) => Math.round(n * 10) / 10;

// warm-up: connections, JIT, tenant creation
for (const id of await newSessions(20)) await oneReply(clients[0]!, id, 5);

const sequential: StreamResult[] = [];
const seqSessions = await newSessions(SEQUENTIAL);
for (let i = 0; i < SEQUENTIAL; i++)
  sequential.push(await oneReply(clients[i % clients.length]!, seqSessions[i]!, 5));

const streams: StreamResult[] = [];
for (const id of await newSessions(3)) streams.push(await oneReply(clients[0]!, id, STREAM_TOKENS));
const rates = streams.map((s) => (s.tokens - 1) / (s.streamMs / 1000));

// one untimed burst first, so that no level pays for opening keep-alive connections (client → API,
// worker → model) that a running service already holds
await Promise.all(
  (await newSessions(CONCURRENT)).map((id, i) => oneReply(clients[i % clients.length]!, id, 5)),
);

// every stream of a level opened at once, each paced like a real model (CONCURRENT_GAP_MS per token)
const levels = [
  ...new Set([...(process.env.BENCH_CONCURRENT_LEVELS ?? '50,100').split(',').map(Number), CONCURRENT]),
]
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const summary = (list: StreamResult[], key: 'addedTtftMs' | 'sendMs' | 'streamMs', p: number) =>
  round(
    percentile(
      list.map((s) => s[key]),
      p,
    ),
  );
const byLevel: {
  streams: number;
  addedTtftP50Ms: number;
  addedTtftP99Ms: number;
  sendMessageP99Ms: number;
}[] = [];
let concurrent: StreamResult[] = [];
const concurrentAll: StreamResult[] = [];
for (const level of levels) {
  const ids = await newSessions(level);
  concurrent = await Promise.all(
    ids.map((id, i) => oneReply(clients[i % clients.length]!, id, CONCURRENT_TOKENS, CONCURRENT_GAP_MS)),
  );
  concurrentAll.push(...concurrent);
  byLevel.push({
    streams: level,
    addedTtftP50Ms: summary(concurrent, 'addedTtftMs', 50),
    addedTtftP99Ms: summary(concurrent, 'addedTtftMs', 99),
    sendMessageP99Ms: summary(concurrent, 'sendMs', 99),
  });
}

// Steady state, what "with N concurrent streams" means: N virtual users, each sending its next
// message as soon as its reply ends, started evenly over one reply's length so that arrivals are
// spread out (about N / 2 s) and ~N reply streams are in flight at every moment. Every message
// sent inside the window after the ramp-up is measured, with the number in flight when it was sent.
const steadySessions = await newSessions(CONCURRENT);
const quietBeforeSteady = await waitForQuiet();
const steadyLoad = machineLoad();
// CPU each process spends (user + system, from /proc): holds when other work loads the box
const cpuMs = (pid: number | undefined) => processCpuMs(pid ?? 'self');
const servicesBefore = serviceCpuMs();
const processes = {
  model: children[0]?.pid,
  api: children[1]?.pid,
  worker: children[2]?.pid,
  bench: undefined,
};
const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMs(pid)]));
const replyMs = MODEL_TTFT_MS + CONCURRENT_TOKENS * CONCURRENT_GAP_MS;
let inFlight = 0;
let steadyTokens = 0;
const steady: (StreamResult & { inFlightAtSend: number })[] = [];
const steadyStart = performance.now();
const windowStart = steadyStart + STEADY_RAMP_MS;
const windowEnd = windowStart + STEADY_WINDOW_MS;
await Promise.all(
  steadySessions.map(async (id, i) => {
    await new Promise((r) => setTimeout(r, (i * replyMs) / CONCURRENT));
    const client = clients[i % clients.length]!;
    while (performance.now() < windowEnd) {
      const at = performance.now();
      const inFlightAtSend = inFlight++;
      const r = await oneReply(client, id, CONCURRENT_TOKENS, CONCURRENT_GAP_MS).finally(() => {
        inFlight--;
      });
      steadyTokens += r.tokens;
      if (at >= windowStart && at < windowEnd) steady.push({ ...r, inFlightAtSend });
    }
  }),
);

const steadyWallMs = performance.now() - steadyStart;
const loadDuringSteady = steadyLoad();
const steadyCpu = {
  ...Object.fromEntries(
    Object.entries(processes).map(([k, pid]) => [
      k,
      round((cpuMs(pid) - cpuBefore[k]!) / (steadyWallMs / 1000)),
    ]),
  ),
  ...cpuPerSecond(servicesBefore, serviceCpuMs(), steadyWallMs),
};
const steadyTokensPerSec = steadyTokens / (steadyWallMs / 1000);
// what the offered load would cost at this run's CPU per delivered token (every process on the
// machine that the run uses, per-reply work included): above the machine's cores, the streams
// cannot keep the model's pace and every step before a first token queues for CPU
const offeredTokensPerSec = (CONCURRENT * CONCURRENT_TOKENS * 1000) / replyMs;
const cpuUsPerToken = (Object.values(steadyCpu).reduce((a, b) => a + b, 0) * 1000) / steadyTokensPerSec;

// Capacity: the most streams at the model's pace (CAPACITY.gapMs, 50 tokens/s) whose p99 added
// latency per delta stays within CAPACITY.limitMs, found by doubling then bisecting, each step a
// short steady state: N virtual users staggered over one reply, every delta received in the
// window after the ramp-up measured (bench/capacity.ts). Then the same steady state at a fixed
// `paced.streams` × 20 tokens/s, the deployment target.
async function capacityStep(n: number, gapMs: number, rampMs = CAPACITY.rampMs): Promise<CapacityStep> {
  const sessions = await newSessions(n);
  const replyMsAt = MODEL_TTFT_MS + CONCURRENT_TOKENS * gapMs;
  const latencies: number[] = [];
  const ttfts: number[] = [];
  let tokensInWindow = 0;
  let inFlightNow = 0;
  let inFlightMin = Number.POSITIVE_INFINITY;
  const start = clockMs();
  const from = start + rampMs;
  const to = from + CAPACITY.windowMs;
  await Promise.all(
    sessions.map(async (id, i) => {
      await new Promise((r) => setTimeout(r, (i * replyMsAt) / n));
      const client = clients[i % clients.length]!;
      while (clockMs() < to) {
        const sentAt = clockMs();
        if (sentAt >= from) inFlightMin = Math.min(inFlightMin, inFlightNow);
        inFlightNow++;
        const r = await oneReply(client, id, CONCURRENT_TOKENS, gapMs, (latency, at, count) => {
          if (at < from || at >= to) return;
          latencies.push(latency);
          tokensInWindow += count;
        }).finally(() => {
          inFlightNow--;
        });
        if (sentAt >= from && sentAt < to) ttfts.push(r.addedTtftMs);
      }
    }),
  );
  return {
    streams: n,
    deltaP50Ms: round(percentile(latencies, 50)),
    deltaP99Ms: round(percentile(latencies, 99)),
    deltas: latencies.length,
    tokensPerDelta: round(tokensInWindow / Math.max(1, latencies.length)),
    addedTtftP50Ms: round(percentile(ttfts, 50)),
    addedTtftP99Ms: round(percentile(ttfts, 99)),
    tokensPerSec: Math.round(tokensInWindow / (CAPACITY.windowMs / 1000)),
    inFlightMin: Number.isFinite(inFlightMin) ? inFlightMin : 0,
  };
}

const capacity = await searchCapacity((n) => capacityStep(n, CAPACITY.gapMs));
const PACED_STREAMS = Number(process.env.BENCH_PACED_STREAMS ?? 200);
const PACED_GAP_MS = Number(process.env.BENCH_PACED_GAP_MS ?? 50);
const paced = await capacityStep(PACED_STREAMS, PACED_GAP_MS, 6000);

// the floor's chain, alone on the machine: this run's own processes are stopped first
for (const c of clients) c.dispose();
stopAll();
await new Promise((r) => setTimeout(r, 1000));
const floorLine = await startChild(['bench/chat-floor.ts', 'capacity'], {}, (l) =>
  l.startsWith('{"floorCapacityStreams"') ? l : null,
);
const floor = JSON.parse(floorLine) as { floorCapacityStreams: number; floorSteps: CapacityStep[] };
// the per-reply part of the floor, alone as well: what every reply must cost besides its tokens
const replyWork = await measureReplyWork(services, userId);
// replies per second at the target (0.7 x the floor's streams, each reply one model reply long)
const targetRepliesPerSec =
  (0.7 * floor.floorCapacityStreams * 1000) / (MODEL_TTFT_MS + CONCURRENT_TOKENS * CAPACITY.gapMs);

const all = [...sequential, ...streams, ...concurrentAll, ...steady];
const result = {
  benchmark: 'chat',
  modelTtftMs: MODEL_TTFT_MS,
  retrievalChunks: 200,
  sequentialReplies: SEQUENTIAL,
  addedTtftP50Ms: summary(sequential, 'addedTtftMs', 50),
  addedTtftP99Ms: summary(sequential, 'addedTtftMs', 99),
  sendMessageP50Ms: summary(sequential, 'sendMs', 50),
  streamTokens: STREAM_TOKENS,
  tokensPerSec: Math.round(percentile(rates, 50)),
  concurrentStreams: CONCURRENT,
  concurrentTokensPerStream: CONCURRENT_TOKENS,
  concurrentInterTokenMs: CONCURRENT_GAP_MS,
  // steady state: CONCURRENT streams in flight throughout, every message of the window measured
  concurrentAddedTtftP50Ms: summary(steady, 'addedTtftMs', 50),
  concurrentAddedTtftP99Ms: summary(steady, 'addedTtftMs', 99),
  concurrentSendMessageP99Ms: summary(steady, 'sendMs', 99),
  concurrentMeasuredReplies: steady.length,
  concurrentWindowMs: STEADY_WINDOW_MS,
  concurrentInFlightMean: round(steady.reduce((n, s) => n + s.inFlightAtSend, 0) / steady.length),
  concurrentInFlightMin: Math.min(...steady.map((s) => s.inFlightAtSend)),
  // first to last token of a steady-state reply; the model alone takes (tokens - 1) × gap
  concurrentStreamP50Ms: summary(steady, 'streamMs', 50),
  concurrentStreamP99Ms: summary(steady, 'streamMs', 99),
  concurrentTokensPerSecAll: Math.round(steadyTokensPerSec),
  concurrentOfferedTokensPerSec: Math.round(offeredTokensPerSec),
  // CPU ms per wall second of each process over the steady state (1000 = one core)
  concurrentCpuMsPerSec: steadyCpu,
  concurrentCpuUsPerToken: Math.round(cpuUsPerToken),
  concurrentCoresForOffered: round((cpuUsPerToken * offeredTokensPerSec) / 1e6),
  // the machine before the steady state (busy share of 2 s) and over it, the hypervisor's steal included
  concurrentMachine: { before: quietBeforeSteady, during: loadDuringSteady },
  // burst: every stream of a level sent at the same instant (a thundering herd), the last level = CONCURRENT
  burstAddedTtftP50Ms: summary(concurrent, 'addedTtftMs', 50),
  burstAddedTtftP99Ms: summary(concurrent, 'addedTtftMs', 99),
  burstLevels: byLevel,
  // the most 50-tokens/s streams with p99 added latency per delta ≤ 150 ms: this server, the floor
  capacityStreams: capacity.capacity,
  floorCapacityStreams: floor.floorCapacityStreams,
  capacityRatio:
    floor.floorCapacityStreams > 0
      ? round((capacity.capacity / floor.floorCapacityStreams) * 100) / 100
      : null,
  capacityP99LimitMs: CAPACITY.limitMs,
  capacityInterTokenMs: CAPACITY.gapMs,
  capacitySteps: capacity.steps,
  floorCapacitySteps: floor.floorSteps,
  // CPU per reply of the contract's per-reply work alone (bench/chat-reply-work.ts), and the
  // cores it alone takes at 0.7 x floorCapacityStreams, on top of the floor chain's per-token cost
  floorReplyWork: replyWork,
  replyWorkCoresAtTarget: round((replyWork.totalCpuMsPerReply * targetRepliesPerSec) / 1000),
  // PACED_STREAMS streams at 1000 / PACED_GAP_MS tokens/s, steady
  paced: { interTokenMs: PACED_GAP_MS, ...paced },
  deltaWindowMs: Number(process.env.REPLY_DELTA_WINDOW_MS ?? 40),
  allTokensInOrder: all.every((s) => s.inOrder),
  tokensLost:
    streams.reduce((n, s) => n + STREAM_TOKENS - s.tokens, 0) +
    [...concurrentAll, ...steady].reduce((n, s) => n + CONCURRENT_TOKENS - s.tokens, 0),
  cpus: availableParallelism(),
  node: process.version,
  at: new Date().toISOString(),
};

// leave the dev services as they were: the seeded memory, every transcript, the user's rows
await removeUsers(services.config, services.blobs, services.orm, [userId]);
await services.close();
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/chat.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
process.exit(0);

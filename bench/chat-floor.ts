// `npm run bench -- chat-floor`: the CPU that the chat bench's steady state costs in the parts that
// are not this project's code. 200 streams at the chat bench's pace (100 tokens, 20 ms apart, 50 ms
// to the first) go stand-in model → `openai` client → Redis PUBLISH → Redis subscriber → a
// graphql-yoga subscription served by graphql-ws over ws → graphql-ws clients, each hop in its own
// process as in the chat bench, with nothing else: no job queue, retrieval, prompt, seq or replay
// log, transcript, rows. CPU per delivered token of that chain is a floor under the chat bench's
// `concurrentCpuUsPerToken`; with the per-reply transcript writes DESIGN requires (two S3 objects,
// priced by the ingest bench's floor), it says what the offered load costs at the least.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createClient } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import WebSocket, { WebSocketServer } from 'ws';
import { graphqlWsThroughYoga } from '../src/server.ts';
import { DeltaCoalescer, ReplyPublisher } from '../src/services/chat/reply-events.ts';
import type { EventBus } from '../src/services/ports/event-bus.ts';
import { startOpenAIStandin } from '../tests/helpers/openai-standin.ts';
import {
  CAPACITY,
  type CapacityStep,
  clockMs,
  deltaLatencyMs,
  searchCapacity,
  stampToken,
} from './capacity.ts';
import { children, startChild } from './children.ts';
import {
  cpuPerSecond,
  machineLoad,
  percentile,
  processCpuMs,
  STEADY_STATE,
  serviceCpuMs,
  waitForQuiet,
} from './stats.ts';

const mode = process.argv[2];
const {
  streams: STEADY_STREAMS,
  tokens: TOKENS,
  gapMs: STEADY_GAP_MS,
  modelTtftMs: TTFT_MS,
  rampMs: RAMP_MS,
  windowMs: WINDOW_MS,
} = STEADY_STATE;
// `capacity` searches for the most streams at CAPACITY's pace (bench/capacity.ts) instead
const GAP_MS = Number(process.env.FLOOR_GAP_MS ?? (mode === 'capacity' ? CAPACITY.gapMs : STEADY_GAP_MS));
const STREAMS = Number(process.env.FLOOR_STREAMS ?? STEADY_STREAMS);
const BASE = Number(process.env.FLOOR_BASE ?? 0);
// the worker's deltas are coalesced as the server's are (DESIGN §7): same code, same window
const WINDOW = Number(process.env.REPLY_DELTA_WINDOW_MS ?? 40);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:56379';
const channel = (stream: number) => `chatfloor:${process.env.FLOOR_PREFIX ?? ''}:${stream}`;
const replyMs = TTFT_MS + TOKENS * GAP_MS;

if (mode === 'standin') {
  const standin = await startOpenAIStandin({
    ttftMs: TTFT_MS,
    tokens: Array.from({ length: TOKENS }, (_, i) => ` t${i}`),
    interTokenMs: GAP_MS,
    stamp: stampToken,
  });
  console.log(JSON.stringify({ url: standin.url }));
  await new Promise(() => undefined);
}

if (mode === 'upstream') {
  // the worker's mandated part: the openai client's stream, one PUBLISH per delta (coalesced)
  const client = new OpenAI({ baseURL: process.env.STANDIN_URL, apiKey: 'not-needed', maxRetries: 0 });
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true });
  // a bare PUBLISH per event, no seq or replay log: the bus the coalescer publishes through
  const bus = {
    publish: (_topic: string, id: string, event: unknown) =>
      redis.publish(channel(Number(id)), JSON.stringify(event)),
  } as unknown as EventBus;
  console.log(JSON.stringify({ url: 'ready' }));
  const until = Date.now() + Number(process.env.RUN_MS);
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const s = BASE + i;
      await new Promise((r) => setTimeout(r, (i * replyMs) / STREAMS));
      let index = 0;
      while (Date.now() < until) {
        const publisher = new ReplyPublisher(bus, String(s));
        const deltas = new DeltaCoalescer(publisher, WINDOW);
        const stream = await client.chat.completions.create({
          model: 'floor',
          messages: [{ role: 'user', content: 'go' }],
          stream: true,
          stream_options: { include_usage: true },
        });
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content;
          if (text) deltas.push(text, index++);
          if (publisher.backlog >= 256) await publisher.drain();
        }
        deltas.flush();
        await publisher.drain();
      }
    }),
  );
  await redis.quit();
  console.log('done');
  process.exit(0);
}

if (mode === 'downstream') {
  // the API's mandated part: a Redis subscriber feeding a yoga subscription over graphql-ws
  const subscriber = new Redis(REDIS_URL);
  const listeners = new Map<string, (message: string) => void>();
  subscriber.on('message', (ch: string, message: string) => listeners.get(ch)?.(message));
  const schema = createSchema({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Token { text: String! index: Int! }
      type Subscription { token(stream: Int!): Token! }
    `,
    resolvers: {
      Subscription: {
        token: {
          subscribe: async function* (_root: unknown, args: { stream: number }) {
            const queue: unknown[] = [];
            let wake: (() => void) | undefined;
            const ch = channel(args.stream);
            listeners.set(ch, (message) => {
              queue.push(JSON.parse(message));
              wake?.();
            });
            await subscriber.subscribe(ch);
            try {
              for (;;) {
                const next = queue.shift();
                if (next === undefined) await new Promise<void>((r) => (wake = r));
                else yield { token: next };
              }
            } finally {
              listeners.delete(ch);
            }
          },
        },
      },
    },
  });
  const yoga = createYoga({ schema, logging: false });
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => yoga.handle(req, res));
  const wss = new WebSocketServer({ server, path: '/graphql' });
  // the API's wiring itself: every operation through Yoga's envelop
  useServer(graphqlWsThroughYoga(yoga), wss);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    console.log(JSON.stringify({ url: `ws://127.0.0.1:${port}/graphql` }));
  });
  await new Promise(() => undefined);
}

/** Starts `node bench/chat-floor.ts <mode>`; resolves with the `url` of its first JSON line. */
const start = (which: string, env: Record<string, string> = {}) =>
  startChild(['bench/chat-floor.ts', which], env, (l) =>
    l.startsWith('{') ? (JSON.parse(l) as { url: string }).url : null,
  );
const prefix = `${process.pid}`;
const gapEnv = { FLOOR_GAP_MS: String(GAP_MS) };
const [standinUrl, wsUrl] = await Promise.all([
  start('standin', gapEnv),
  start('downstream', { FLOOR_PREFIX: prefix }),
]);
const [standin, downstream] = children as [ChildProcess, ChildProcess];

if (mode === 'capacity') {
  // each step: n streams on fresh channels, the upstream started for a ramp-up and a window, every
  // delta received in the window measured from its first token's stamp (bench/capacity.ts)
  const clients = Array.from({ length: 4 }, () => createClient({ url: wsUrl, webSocketImpl: WebSocket }));
  let base = 0;
  const step = async (n: number): Promise<CapacityStep> => {
    const latencies: number[] = [];
    let tokens = 0;
    let from = Number.POSITIVE_INFINITY;
    let to = Number.POSITIVE_INFINITY;
    const unsubscribe = Array.from({ length: n }, (_, i) =>
      clients[i % clients.length]!.subscribe(
        { query: 'subscription($s: Int!) { token(stream: $s) { text index } }', variables: { s: base + i } },
        {
          next: (msg) => {
            const at = clockMs();
            if (at < from || at >= to) return;
            const { text } = (msg.data as { token: { text: string } }).token;
            latencies.push(deltaLatencyMs(text, at));
            tokens += text.split('@').length - 1;
          },
          error: (e) => {
            throw e;
          },
          complete: () => undefined,
        },
      ),
    );
    await new Promise((r) => setTimeout(r, 500 + n)); // every subscription is on Redis
    const ready = start('upstream', {
      ...gapEnv,
      FLOOR_PREFIX: prefix,
      FLOOR_STREAMS: String(n),
      FLOOR_BASE: String(base),
      STANDIN_URL: standinUrl,
      RUN_MS: String(CAPACITY.rampMs + CAPACITY.windowMs),
    });
    const upstream = children.at(-1)!;
    await ready;
    from = clockMs() + CAPACITY.rampMs;
    to = from + CAPACITY.windowMs;
    await new Promise<void>((r) => upstream.once('exit', () => r()));
    for (const stop of unsubscribe) stop();
    base += n;
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      streams: n,
      deltaP50Ms: round(percentile(latencies, 50)),
      deltaP99Ms: round(percentile(latencies, 99)),
      deltas: latencies.length,
      tokensPerDelta: round(tokens / Math.max(1, latencies.length)),
      tokensPerSec: Math.round(tokens / (CAPACITY.windowMs / 1000)),
    };
  };
  const found = await searchCapacity(step);
  for (const c of clients) await c.dispose();
  const line = JSON.stringify({ floorCapacityStreams: found.capacity, floorSteps: found.steps });
  console.log(line);
  process.exit(0);
}

// four connections share the streams, as in the chat bench
let received = 0;
let outOfOrder = 0;
const clients = Array.from({ length: 4 }, () => createClient({ url: wsUrl, webSocketImpl: WebSocket }));
for (let s = 0; s < STREAMS; s++) {
  let expected = 0;
  clients[s % clients.length]!.subscribe(
    { query: 'subscription($s: Int!) { token(stream: $s) { text index } }', variables: { s } },
    {
      next: (msg) => {
        const { index, text } = (msg.data as { token: { index: number; text: string } }).token;
        const count = text.split('@').length - 1; // a delta's tokens, each stamped by the stand-in
        if (index !== expected) outOfOrder++;
        expected = index + count;
        received += count;
      },
      error: (e) => {
        throw e;
      },
      complete: () => undefined,
    },
  );
}
await new Promise((r) => setTimeout(r, 2000)); // every subscription is on Redis
await waitForQuiet();

const upstreamReady = start('upstream', {
  ...gapEnv,
  FLOOR_PREFIX: prefix,
  STANDIN_URL: standinUrl,
  RUN_MS: String(RAMP_MS + WINDOW_MS + 1000),
});
const upstream = children[2]!;
await upstreamReady;
await new Promise((r) => setTimeout(r, RAMP_MS));
const pids = { model: standin.pid!, worker: upstream.pid!, api: downstream.pid! };
const cpuAt = () => ({
  ...serviceCpuMs(),
  ...Object.fromEntries(Object.entries(pids).map(([k, pid]) => [`${k}:${pid}`, processCpuMs(pid)])),
  'bench:self': processCpuMs(),
});
const before = cpuAt();
const load = machineLoad();
const receivedBefore = received;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, WINDOW_MS));
const wallMs = performance.now() - t0;
const cpu = cpuPerSecond(before, cpuAt(), wallMs);
const machine = load();
const tokensPerSec = ((received - receivedBefore) * 1000) / wallMs;
await new Promise<void>((r) => upstream.once('exit', () => r()));
for (const c of clients) await c.dispose();

const offered = (STREAMS * TOKENS * 1000) / replyMs;
// the chain's processes only: MinIO, Weaviate and PostgreSQL have no part in it (what they do
// meanwhile, a purge after an earlier run say, shows in cpuMsPerSec but is not counted)
const chain = ['model', 'worker', 'api', 'bench', 'redis'];
const cpuUsPerToken = (chain.reduce((a, k) => a + (cpu[k] ?? 0), 0) * 1000) / tokensPerSec;
const result = {
  bench: 'chat-floor',
  streams: STREAMS,
  tokensPerStream: TOKENS,
  interTokenMs: GAP_MS,
  offeredTokensPerSec: Math.round(offered),
  deliveredTokensPerSec: Math.round(tokensPerSec),
  outOfOrder,
  // CPU ms per wall second over the window (1000 = one core): stand-in, openai client + PUBLISH,
  // subscriber + yoga + graphql-ws, the clients, and the services
  cpuMsPerSec: cpu,
  cpuUsPerToken: Math.round(cpuUsPerToken),
  coresForOffered: Math.round((cpuUsPerToken * offered) / 1e4) / 100,
  cpus: availableParallelism(),
  machine,
  node: process.version,
  at: new Date().toISOString(),
};
const line = JSON.stringify(result);
writeFileSync('bench/results/chat-floor.json', `${line}\n`);
console.log(line);
process.exit(0);

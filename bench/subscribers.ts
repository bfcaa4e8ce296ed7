import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { pino } from 'pino';
import WebSocket from 'ws';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { IngestProgressDocument } from '../src/sdk/generated/graphql.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { children, startChild, stopAll } from './children.ts';
import { machineLoad, percentile } from './stats.ts';

// `npm run bench -- subscribers` (issue #14, Load): 2,000 graphql-ws subscribers on ONE API process
// (src/main.ts, no workers, a child of this bench), 10 per user across 200 users, each subscribed
// to its user's `ingestProgress`, while events flow: this process publishes through the real Redis
// event bus, as workers do, BENCH_RATE events a second across the users (round robin) for
// BENCH_SECONDS. Every event goes to the user's 10 subscribers; each delivery is timed from its
// publish (the publish time rides in the event's `done` field, ms since the bench began). The
// API's RSS is read from /proc before the subscribers connect and once they all are.
// Fields: subscribers, deliveredPerSec, deliveryP99Ms, apiRssMb, rssPerSubscriberKb, dropped.

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 2000);
const USERS = Number(process.env.BENCH_USERS ?? 200);
const RATE = Number(process.env.BENCH_RATE ?? 200); // events published per second, all users
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const secret = 'bench-auth-secret-0123456789';
const prefix = `benchsubs${randomUUID().slice(0, 6)}`;
const env = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  PORT: '0',
  QUEUE_PREFIX: prefix,
  EVENT_PREFIX: prefix,
  AUTH_SECRET: secret,
  AUTH_ALLOW_ANONYMOUS: 'false',
  RUN_WORKERS: 'false',
  // production serves /metrics only with its token
  METRICS_TOKEN: 'bench-metrics-token-0123456789',
};

const apiUrl = await startChild(
  ['src/main.ts'],
  env,
  (l) => /on (http:\/\/\S+\/graphql)/.exec(l)?.[1] ?? null,
);
const apiPid = children[0]!.pid!;
const rssMb = () => {
  const status = readFileSync(`/proc/${apiPid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
};
const services = await createServices(
  parseConfig({ ...process.env, ...env, LOG_LEVEL: 'silent' }),
  pino({ level: 'silent' }),
  jobs,
);

const users = Array.from({ length: USERS }, (_, i) => `bench-subs-${i}-${randomUUID().slice(0, 6)}`);
const begun = Date.now();
const query = print(IngestProgressDocument);
// warm the API (first connection, first subscription) before its baseline RSS
await new Promise((r) => setTimeout(r, 1500));
const rssBefore = rssMb();

interface Sub {
  user: number;
  seen: number;
  lastSeq: number;
}
const subs: Sub[] = [];
const latencies: number[] = [];
let delivered = 0;
let outOfOrder = 0;
const clients: ReturnType<typeof createClient>[] = [];
const wsUrl = apiUrl.replace(/^http/, 'ws');
const connected: Promise<void>[] = [];
for (let i = 0; i < SUBSCRIBERS; i++) {
  const user = i % USERS;
  const sub: Sub = { user, seen: 0, lastSeq: 0 };
  subs.push(sub);
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${issueToken(secret, users[user]!)}` },
    retryAttempts: 0,
    lazy: false,
  });
  clients.push(client);
  connected.push(
    new Promise<void>((resolve, reject) => {
      client.on('connected', () => resolve());
      client.on('error', reject);
    }),
  );
  client.subscribe<{ ingestProgress: { done: number; seq: number } }>(
    { query, variables: {} },
    {
      next: (r) => {
        const e = r.data?.ingestProgress;
        if (!e) return;
        latencies.push(Date.now() - begun - e.done);
        if (e.seq <= sub.lastSeq) outOfOrder++;
        sub.lastSeq = e.seq;
        sub.seen++;
        delivered++;
      },
      error: (err) => console.error('subscription error', err),
      complete: () => {},
    },
  );
  // connect in waves, as clients arriving: 100 at a time
  if (i % 100 === 99) await Promise.all(connected.slice(i - 99, i + 1));
}
await Promise.all(connected);
// every subscription registered on the server before events flow
await new Promise((r) => setTimeout(r, 2000));
const rssAfter = rssMb();

// the API's own loop lag and GC over the flow, from its /metrics (prom-client resets the lag
// histogram on each scrape, so the scrape before the flow starts it afresh)
const metricsUrl = apiUrl.replace(/\/graphql$/, '/metrics');
const scrape = async () => {
  const text = await (
    await fetch(metricsUrl, { headers: { authorization: `Bearer ${env.METRICS_TOKEN}` } })
  ).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const gc = [...text.matchAll(/^twin_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
  return {
    lagP99: value('twin_nodejs_eventloop_lag_p99_seconds'),
    lagMax: value('twin_nodejs_eventloop_lag_max_seconds'),
    gc,
  };
};
const apiBefore = await scrape();
const load = machineLoad();
// the bench's own loop (2,000 clients) delays what it sees: its lag is the part of a delivery's time the API is not to blame for
const clientLag = monitorEventLoopDelay({ resolution: 10 });
clientLag.enable();
const published = new Array<number>(USERS).fill(0);
const interval = 1000 / RATE;
const flowStart = Date.now();
let n = 0;
while (Date.now() - flowStart < SECONDS * 1000) {
  const user = n % USERS;
  const due = flowStart + n * interval;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  void services.events.publish('ingest', users[user]!, {
    documentId: randomUUID(),
    stage: 'EMBEDDING',
    done: Date.now() - begun,
    total: n,
    attempt: 1,
    error: null,
  });
  published[user]!++;
  n++;
}
const flowSeconds = (Date.now() - flowStart) / 1000;
clientLag.disable();
// what is still on its way arrives
await new Promise((r) => setTimeout(r, 3000));
const rssEnd = rssMb();
const apiAfter = await scrape();
const expected = subs.reduce((sum, s) => sum + published[s.user]!, 0);
const dropped = subs.reduce((sum, s) => sum + (published[s.user]! - s.seen), 0);

for (const c of clients) void c.dispose();
await services.close();
stopAll();

const result = {
  benchmark: 'subscribers',
  subscribers: SUBSCRIBERS,
  users: USERS,
  published: n,
  publishedPerSec: Math.round(n / flowSeconds),
  expectedDeliveries: expected,
  delivered,
  deliveredPerSec: Math.round(delivered / flowSeconds),
  dropped,
  outOfOrder,
  deliveryP50Ms: percentile(latencies, 50),
  deliveryP99Ms: percentile(latencies, 99),
  deliveryMaxMs: latencies.reduce((a, b) => Math.max(a, b), 0),
  clientLoopLagP99Ms: Math.round(clientLag.percentile(99) / 1e6),
  clientLoopLagMaxMs: Math.round(clientLag.max / 1e6),
  apiLoopLagP99Ms: Math.round(apiAfter.lagP99 * 1000),
  apiLoopLagMaxMs: Math.round(apiAfter.lagMax * 1000),
  apiGcMs: Math.round((apiAfter.gc - apiBefore.gc) * 1000),
  apiRssMbBefore: Math.round(rssBefore),
  apiRssMb: Math.round(rssAfter),
  apiRssMbEnd: Math.round(rssEnd),
  rssPerSubscriberKb: Math.round(((rssAfter - rssBefore) * 1024) / SUBSCRIBERS),
  targets: { deliveryP99Ms: 100, rssPerSubscriberKb: 50, dropped: 0 },
  load: load(),
};
writeFileSync('bench/results/subscribers.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
process.exit(0);

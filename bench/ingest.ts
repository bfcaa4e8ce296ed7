// `npm run bench -- ingest`: ≥10 MB of text in ≥2,000 documents uploaded through GraphQL to a
// separate API process, ingested by a separate worker process (local embedder, local services).
// Also measures, in the same run, the ceiling the pipeline cannot beat: raw S3 PUTs of the same
// chunk objects and raw Weaviate batch inserts of the same vectors at the same concurrency.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { createClient } from 'graphql-ws';
import pMap from 'p-map';
import { Client } from 'pg';
import { pino } from 'pino';
import WebSocket from 'ws';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { issueToken } from '../src/services/auth.service.ts';
import type { ChunkVector } from '../src/services/ports/vector-index.ts';
import { removeUsers } from '../tests/helpers/cleanup.ts';
import {
  cpuDeltaMs,
  cpuPerSecond,
  machineLoad,
  percentile,
  processCpuMs,
  serviceCpuMs,
  waitForQuiet,
} from './stats.ts';

const DOCS = Number(process.env.BENCH_DOCS ?? 2000);
const DOC_BYTES = Number(process.env.BENCH_DOC_BYTES ?? 5400);
const UPLOAD_CONCURRENCY = Number(process.env.BENCH_UPLOAD_CONCURRENCY ?? 16);
const WORKER_CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 16);
const S3_CONCURRENCY = 16; // per job, as in the pipeline
const prefix = `bench${randomUUID().slice(0, 6)}`;
const secret = 'bench-auth-secret-0123456789';
const userId = `bench-${randomUUID().slice(0, 8)}`;

const WORDS = (
  'river mountain engine garden letter market winter summer violin harbour orchard glacier copper ' +
  'lantern meadow thunder library canvas pepper castle forest island planet mirror shadow silver ' +
  'teacher kitchen rocket window bridge candle desert valley coffee station anchor feather marble'
).split(' ');
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
function document(i: number): string {
  const parts: string[] = [`Document ${i}.`];
  let size = 0;
  while (size < DOC_BYTES) {
    const n = 8 + Math.floor(rand() * 12);
    const words = Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]!);
    const s = `${words.join(' ')} ${i}.`;
    parts.push(s.charAt(0).toUpperCase() + s.slice(1));
    size += s.length + 1;
    if (rand() < 0.15) parts.push('\n\n');
  }
  return parts.join(' ');
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

function peakRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

const port = await freePort();
const env = {
  // the benchmark's own collection, created by the code under test (index settings included) and
  // apart from the tests' data; override with WEAVIATE_COLLECTION
  WEAVIATE_COLLECTION: 'BenchChunk',
  ...process.env,
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  PORT: String(port),
  QUEUE_PREFIX: prefix,
  EVENT_PREFIX: prefix,
  AUTH_SECRET: secret,
  AUTH_ALLOW_ANONYMOUS: 'false',
  // a benchmark is one user at full speed: the per-user quotas would measure themselves
  RATE_LIMIT_SEARCH: '1000000000',
  RATE_LIMIT_REPLIES: '1000000000',
  RATE_LIMIT_UPLOADS: '1000000000',
  EMBEDDER: 'local',
  RUN_WORKERS: 'false',
  WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
};
const config0 = () => parseConfig({ ...env, LOG_LEVEL: 'silent' });
const children: ChildProcess[] = [];
// BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the API and the worker
const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean);
const start = (script: string) => {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
};
const stopAll = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('exit', stopAll);

const api = start('src/main.ts');
const worker = start('src/worker.ts');
const url = `http://127.0.0.1:${port}/graphql`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
  } catch {}
  if (i > 300) throw new Error('API did not start');
  await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 1500)); // the worker connects to its queue

const token = issueToken(secret, userId);
const texts = Array.from({ length: DOCS }, (_, i) => document(i));
const totalBytes = texts.reduce((a, t) => a + Buffer.byteLength(t), 0);

// completion comes from the ingestProgress subscription, as a dashboard would see it
const doneAt = new Map<string, number>();
const chunksOf = new Map<string, number>();
let resolveAll: () => void;
const allDone = new Promise<void>((r) => {
  resolveAll = r;
});
const ws = createClient({
  url: `ws://127.0.0.1:${port}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
});
await new Promise<void>((resolve, reject) => {
  ws.subscribe(
    { query: 'subscription { ingestProgress(afterSeq: 0) { documentId stage total } }' },
    {
      next: (msg) => {
        const e = (msg.data as { ingestProgress: { documentId: string; stage: string; total: number } })
          .ingestProgress;
        if (e.stage === 'DONE' || e.stage === 'FAILED') {
          doneAt.set(e.documentId, performance.now());
          chunksOf.set(e.documentId, e.stage === 'DONE' ? e.total : 0);
          if (doneAt.size >= DOCS) resolveAll();
        }
      },
      error: reject,
      complete: () => {},
    },
  );
  setTimeout(resolve, 500);
});

const quietBefore = await waitForQuiet();
const startedAt = new Map<string, number>();
const runLoad = machineLoad();
const cpuAt0 = { ...serviceCpuMs(), api: processCpuMs(api.pid!), worker: processCpuMs(worker.pid!) };
const t0 = performance.now();
await pMap(
  texts,
  async (text, i) => {
    const form = new FormData();
    form.append(
      'operations',
      JSON.stringify({
        query: 'mutation($f: File!) { uploadDocument(file: $f) { __typename ... on Document { id } } }',
        variables: { f: null },
      }),
    );
    form.append('map', JSON.stringify({ 0: ['variables.f'] }));
    form.append('0', new Blob([text], { type: 'text/plain' }), `doc-${i}.txt`);
    const begin = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'graphql-require-preflight': '1' },
      body: form,
    });
    const body = (await res.json()) as { data?: { uploadDocument: { __typename: string; id?: string } } };
    const id = body.data?.uploadDocument.id;
    if (!id) throw new Error(`upload failed: ${JSON.stringify(body)}`);
    startedAt.set(id, begin);
  },
  { concurrency: UPLOAD_CONCURRENCY },
);
const uploadedAt = performance.now();
// the feed is at-most-once (Redis pub/sub): completion is confirmed from the database too
const pg = new Client({ connectionString: config0().DATABASE_URL });
await pg.connect();
let settledCount = 0;
let lastChange = performance.now();
while (doneAt.size < DOCS) {
  const r = await pg.query(
    "SELECT count(*)::int AS n FROM documents WHERE user_id = $1 AND status IN ('processed', 'failed')",
    [userId],
  );
  const n = r.rows[0].n as number;
  if (n !== settledCount) {
    settledCount = n;
    lastChange = performance.now();
  }
  if (n >= DOCS) break;
  if (performance.now() - lastChange > 120_000) throw new Error(`stalled at ${n}/${DOCS}`);
  await Promise.race([allDone, new Promise((r) => setTimeout(r, 250))]);
}
const dbChunks = (
  await pg.query('SELECT coalesce(sum(chunk_count), 0)::int AS c FROM documents WHERE user_id = $1', [userId])
).rows[0].c as number;
await pg.end();
const t1 = doneAt.size >= DOCS ? Math.max(...doneAt.values()) : performance.now();
const seconds = (t1 - t0) / 1000;
// where the cores went over the run (1000 = one core), the bench's own process included
const loadDuringRun = runLoad();
const pipelineCpuMsPerSec = cpuPerSecond(
  cpuAt0,
  { ...serviceCpuMs(), api: processCpuMs(api.pid!), worker: processCpuMs(worker.pid!) },
  performance.now() - t0,
);
const chunks = dbChunks;
const missedEvents = DOCS - doneAt.size;
const failed = [...chunksOf.values()].filter((c) => c === 0).length;
const latencies = [...doneAt].map(([id, at]) => at - (startedAt.get(id) ?? t0));
const apiPeakRssMb = peakRssMb(api.pid!);
const workerPeakRssMb = peakRssMb(worker.pid!);
ws.dispose();
stopAll();

// the ceiling: the same number of chunk-sized objects and vectors, written directly, once the
// services have settled after the pipeline
const quietBeforeCeiling = await waitForQuiet();
const config = parseConfig({ ...env, LOG_LEVEL: 'silent' });
const services = await createServices(config, pino({ level: 'silent' }), jobs);
const ceilingUser = `${userId}-ceiling`;
const avgChunkChars = Math.round(totalBytes / Math.max(1, chunks));
const body = 'x'.repeat(avgChunkChars);
const perDoc = Math.max(1, Math.round(chunks / DOCS));
const concurrency = WORKER_CONCURRENCY * Math.min(S3_CONCURRENCY, perDoc);
let cpuBefore = serviceCpuMs();
let clientBefore = processCpuMs();
let s = performance.now();
await pMap(
  Array.from({ length: chunks }, (_, i) => i),
  async (i) => {
    await services.blobs.put(ceilingUser, `bench/chunk_${i}.txt`, body);
  },
  { concurrency },
);
const s3PerSec = chunks / ((performance.now() - s) / 1000);
const s3ServerCpuMsPerPut = cpuDeltaMs(cpuBefore, serviceCpuMs()).s3! / chunks;
const s3ClientCpuMsPerPut = (processCpuMs() - clientBefore) / chunks;
await services.vectors.ensureTenant(ceilingUser, services.embedder.model);
// real vectors (chunk-sized slices of the uploaded text), embedded before the clock starts: HNSW
// insert cost depends on the data, near-duplicate vectors would flatter or penalise it
const slices = Array.from({ length: chunks }, (_, i) => {
  const text = texts[i % DOCS]!;
  const from = (Math.floor(i / DOCS) * avgChunkChars) % Math.max(1, text.length - avgChunkChars);
  return text.slice(from, from + avgChunkChars);
});
const ceilingVectors = await services.embedder.embed(slices);
// the pipeline's vector writes are coalesced per tenant (VECTOR_BATCH_*): measure full batches at
// the batcher's in-flight limit, the best case the pipeline could reach
const vectorBatch = config.VECTOR_BATCH_MAX;
const vectorConcurrency = config.VECTOR_BATCH_IN_FLIGHT;
const batches = Array.from({ length: Math.ceil(chunks / vectorBatch) }, (_, b) => b);
cpuBefore = serviceCpuMs();
clientBefore = processCpuMs();
s = performance.now();
await pMap(
  batches,
  async (b) => {
    const n = Math.min(vectorBatch, chunks - b * vectorBatch);
    const points: ChunkVector[] = Array.from({ length: n }, (_, j) => ({
      documentId: `00000000-0000-4000-8000-${String(b).padStart(12, '0')}`,
      chunkIndex: j,
      s3Path: `bench/chunk_${b}_${j}.txt`,
      filename: 'bench.txt',
      contentType: 'text/plain',
      timestamp: new Date().toISOString(),
      embeddingModel: services.embedder.model,
      charStart: 0,
      charEnd: 1,
      page: null,
      vector: ceilingVectors[b * vectorBatch + j]!,
    }));
    await services.vectors.upsert(ceilingUser, points);
  },
  { concurrency: vectorConcurrency },
);
const weaviatePerSec = chunks / ((performance.now() - s) / 1000);
const weaviateCpuMsPerVector = cpuDeltaMs(cpuBefore, serviceCpuMs()).weaviate! / chunks;
const weaviateClientCpuMsPerVector = (processCpuMs() - clientBefore) / chunks;
// The floor: the CPU, client and server together, of the two writes every chunk needs (one S3 PUT,
// one vector insert), measured above with nothing else running. No pipeline can pass the rate at
// which all cores would be spent on those alone.
const floorCpuMsPerChunk =
  s3ClientCpuMsPerPut + s3ServerCpuMsPerPut + weaviateClientCpuMsPerVector + weaviateCpuMsPerVector;
// leave the dev services as they were: a run's ~19,000 objects would otherwise stay behind, and
// MinIO's background scanner works through every object there is, costing later runs CPU
await removeUsers(config, services.blobs, services.orm, [userId, ceilingUser]);
await services.close();

// BENCH_EMBEDDER=local-model: the embedded model's throughput on ~200-token chunks and its floor,
// the raw ONNX Runtime session (bench/embed.ts); the pipeline above still embeds with the hash
const embed =
  process.env.BENCH_EMBEDDER === 'local-model' ? await (await import('./embed.ts')).measureEmbed() : null;
const chunksPerSec = Math.round(chunks / seconds);
const ceilingChunksPerSec = Math.round(Math.min(s3PerSec, weaviatePerSec));
const result = {
  bench: 'ingest',
  docs: DOCS,
  failed,
  missedEvents,
  mb: Math.round((totalBytes / 1e6) * 100) / 100,
  chunks,
  seconds: Math.round(seconds * 100) / 100,
  uploadSeconds: Math.round((uploadedAt - t0) / 10) / 100,
  chunksPerSec,
  mbPerSec: Math.round((totalBytes / 1e6 / seconds) * 100) / 100,
  docLatencyP50Ms: Math.round(percentile(latencies, 50)),
  docLatencyP95Ms: Math.round(percentile(latencies, 95)),
  apiPeakRssMb,
  workerPeakRssMb,
  s3PutPerSec: Math.round(s3PerSec),
  weaviateInsertPerSec: Math.round(weaviatePerSec),
  ceilingConcurrency: { s3: concurrency, weaviate: vectorConcurrency, vectorsPerBatch: vectorBatch },
  ceilingChunksPerSec,
  ceilingFraction: Math.round((chunksPerSec / ceilingChunksPerSec) * 100) / 100,
  pipelineCpuMsPerSec,
  s3ServerCpuMsPerPut: Math.round(s3ServerCpuMsPerPut * 100) / 100,
  s3ClientCpuMsPerPut: Math.round(s3ClientCpuMsPerPut * 100) / 100,
  weaviateCpuMsPerVector: Math.round(weaviateCpuMsPerVector * 100) / 100,
  weaviateClientCpuMsPerVector: Math.round(weaviateClientCpuMsPerVector * 100) / 100,
  floorCpuMsPerChunk: Math.round(floorCpuMsPerChunk * 100) / 100,
  floorChunksPerSec: Math.round((availableParallelism() * 1000) / floorCpuMsPerChunk),
  cpus: availableParallelism(),
  workerConcurrency: WORKER_CONCURRENCY,
  embedder: 'local-hash-v1',
  ...(embed && {
    embedModel: embed.model,
    embedChunksPerSec: embed.embedChunksPerSec,
    floorEmbedChunksPerSec: embed.floorEmbedChunksPerSec,
    embedThreads: embed.threads,
  }),
  // the machine before the run and the ceiling (busy share of 2 s), and over the run: the
  // hypervisor's steal is CPU this VM did not get
  machine: { beforeRun: quietBefore, beforeCeiling: quietBeforeCeiling, duringRun: loadDuringRun },
};
const line = JSON.stringify(result);
writeFileSync('bench/results/ingest.json', `${line}\n`);
console.log(line);
process.exit(0);

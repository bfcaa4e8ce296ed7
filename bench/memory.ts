// `npm run bench -- memory`: L1 memory builds (MEMORY-TRAINING.md A) of a 100,000-chunk tenant
// with planted topics, offline labelling (MEMORY_LLM=off), through the real job path: the bench
// queues `memory-update` (rebuildMemory's or an ingest/delete's scheduling) and waits for the
// build's DONE on `memory:{userId}`, while the worker runs as a child process
// (bench/memory-worker.ts) and the API (createApp) runs here with a client asking
// `memory { status }` every 50 ms. Phases, each timed from the trigger to DONE:
//   1. firstBuildSeconds: a full build with the extraction caches removed first (cold: every
//      document's vectors scanned from Weaviate and chunk texts read from S3);
//   2. fullBuildSeconds: a full build again, caches warm (the target);
//   3. incrementalSeconds: one 20-chunk document added (chunk objects, vectors and its row loaded
//      directly, as the tenant is) and the update an ingest schedules;
//   4. deleteSeconds: that document deleted (DocumentsService.delete) and the update it schedules.
// Loading bypasses GraphQL (as the search bench does) and resumes where it stopped.
import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { eng } from 'stopword';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { createApp } from '../src/server.ts';
import { migrateUp } from '../src/services/adapters/postgres/orm.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { packChunks } from '../src/services/documents/chunk-file.ts';
import { estimateTokens } from '../src/services/documents/ingest/chunker.ts';
import { readSnapshot } from '../src/services/memory/snapshot/snapshot-store.ts';
import type { ChunkVector } from '../src/services/ports/vector-index.ts';
import { chunkPointer, documentKeys } from '../src/services/tenant-keys.ts';
import { rngFor, VOCAB, WORDS, zipfRank } from './corpus.ts';
import { machineLoad, percentile, processCpuMs, waitForQuiet } from './stats.ts';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const PER_DOC = 100;
const TOPICS = Number(process.env.BENCH_TOPICS ?? 200);
const EXTRA_CHUNKS = 20;
const userId = process.env.BENCH_USER ?? `bench-memory-${CHUNKS / 1000}k-v2`;
// v1's tenant (pseudo-words at the Zipf head, see below): removed to free the disk
const LEGACY_USER = `bench-memory-${CHUNKS / 1000}k`;
const secret = 'bench-auth-secret-0123456789';
const BUILD_TIMEOUT_MS = 15 * 60_000;

// ---- corpus: the search bench's (bench/search.ts, v2), with topics planted across documents ----
// The same seeded 6,000-pseudo-word vocabulary, Zipf (s = 1) background, 30% topic words and
// 10–59 words per chunk; but document d is on planted topic d % TOPICS (200 topics of 5
// documents, 500 chunks each), and the topics' vocabularies are disjoint: 28 words each, a
// seeded partition of the words of rank 300 and below. (The search corpus gives each of its 1,000
// documents a topic of its own, more topics than k's cap of 300, so purity would measure the cap.)
// v2: the 100 most frequent ranks are English function words (the `stopword` package's list, which
// memory's term counts drop), as the head of a real Zipf distribution is: with pseudo-words there
// (v1, `bench-memory-100k`) every chunk shared more head words with every other chunk than with
// its own topic's, which no real text does, and clustering found no topics (purity 0.02).
const TOPIC_FROM_RANK = 300;
const TOPIC_WORDS = Math.floor((VOCAB - TOPIC_FROM_RANK) / TOPICS);
const TOPIC_RANKS: number[][] = (() => {
  const ranks = Array.from({ length: VOCAB - TOPIC_FROM_RANK }, (_, i) => TOPIC_FROM_RANK + i);
  const rng = rngFor(5, 0);
  for (let i = ranks.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
  }
  return Array.from({ length: TOPICS }, (_, t) => ranks.slice(t * TOPIC_WORDS, (t + 1) * TOPIC_WORDS));
})();
const topicOfDoc = (d: number) => d % TOPICS;
const FUNCTION_WORDS = [...new Set(eng.filter((w) => /^[a-z]+$/.test(w)))].slice(0, 100);
const wordAt = (rank: number) => (rank < FUNCTION_WORDS.length ? FUNCTION_WORDS[rank]! : WORDS[rank]!);
const word = (rng: () => number, t: readonly number[]) =>
  wordAt(rng() < 0.3 ? t[Math.floor(rng() * t.length)]! : zipfRank(rng()));
/** Chunk j of document d (stream 3 as the search bench's; the extra document has its own). */
function sentence(d: number, j: number, stream = 3) {
  const rng = rngFor(stream, d * PER_DOC + j);
  const t = TOPIC_RANKS[topicOfDoc(d)]!;
  return Array.from({ length: 10 + Math.floor(rng() * rng() * 50) }, () => word(rng, t)).join(' ');
}

const env = {
  ...process.env,
  LOG_LEVEL: 'silent',
  AUTH_SECRET: secret,
  AUTH_ALLOW_ANONYMOUS: 'false',
  RATE_LIMIT_SEARCH: '1000000000',
  MEMORY_LLM: 'off',
  // the offline lexical embedder, as the recorded runs had it (the tenant's vectors are its); with
  // the MiniLM model installed EMBEDDER=auto would pick that and load a different tenant
  EMBEDDER: process.env.EMBEDDER ?? 'local-hash',
  // the update an ingest or a delete schedules runs at once: the bench times the build, not the wait
  MEMORY_DEBOUNCE_MS: '0',
  // the bench's own queues: no other worker on this Redis takes its jobs, its worker no one else's
  QUEUE_PREFIX: process.env.QUEUE_PREFIX ?? 'bench-memory',
  // a failed build is reported as failed, not retried into the timing
  JOB_ATTEMPTS: '1',
};
const settings = parseConfig(env);
const config = parseConfig({
  WEAVIATE_COLLECTION: `BenchChunk_ef${settings.VECTOR_HNSW_EF_CONSTRUCTION}_m${settings.VECTOR_HNSW_MAX_CONNECTIONS}`,
  ...env,
});
const services = await createServices(config, pino({ level: 'silent' }), jobs);
const { embedder, vectors, blobs, orm, events } = services;
// a fresh machine's database has no tables yet (the server migrates at start-up; the bench too)
await migrateUp(orm);
const sql = orm.em.getConnection();
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const load1 = () => round(loadavg()[0]!);

// ---- the tenant: rows, chunk objects and vectors, loaded directly and resumably ----
if (!process.env.BENCH_USER) {
  const [legacy] = await sql.execute<{ n: string }[]>('SELECT count(*) AS n FROM users WHERE id = ?', [
    LEGACY_USER,
  ]);
  if (Number(legacy?.n) > 0) {
    await vectors.deleteTenant(LEGACY_USER);
    await blobs.deletePrefix(LEGACY_USER, '');
    await sql.execute('DELETE FROM users WHERE id = ?', [LEGACY_USER]);
    console.error(`removed ${LEGACY_USER} (v1 corpus)`);
  }
}
await sql.execute('INSERT INTO users (id) VALUES (?) ON CONFLICT DO NOTHING', [userId]);
const docPrefix = createHash('sha1').update(userId).digest('hex').slice(0, 8);
const docId = (d: number) => `${docPrefix}-0000-4000-8000-${String(d).padStart(12, '0')}`;
const indexOfDoc = (id: string) => Number(id.slice(-12));
const docs = Math.ceil(CHUNKS / PER_DOC);
const EXTRA = 999_999; // the document phases 3–4 add and delete (its index gives its topic)
const LOAD_JOB = 'bench-memory-load-v1';
async function insertRows(indexes: number[], chunkCount: number, ingestJobId: string) {
  await sql.execute(
    `INSERT INTO documents (id, user_id, filename, content_type, s3_path, content_hash, status, processed, chunk_count, embedding_model, ingest_job_id, uploaded_at)
     VALUES ${indexes.map(() => "(?, ?, ?, 'text/plain', ?, ?, 'processed', true, ?, ?, ?, ?)").join(', ')}
     ON CONFLICT DO NOTHING`,
    indexes.flatMap((v) => [
      docId(v),
      userId,
      `bench-memory-${v}.txt`,
      documentKeys.raw(docId(v), `bench-memory-${v}.txt`),
      String(v).padStart(64, '0'),
      chunkCount,
      embedder.model,
      ingestJobId,
      new Date(Date.UTC(2026, 0, 1) + v * 60_000).toISOString(),
    ]),
  );
}
for (let d = 0; d < docs; d += 200)
  await insertRows(
    Array.from({ length: Math.min(200, docs - d) }, (_, j) => d + j),
    PER_DOC,
    LOAD_JOB,
  );

async function loadChunks(d: number, count: number, stream: number) {
  const texts = Array.from({ length: count }, (_, j) => sentence(d, j, stream));
  const vecs = await embedder.embed(texts);
  // one chunk file per document, as ingest writes it (DESIGN §4)
  let at = 0;
  const chunks = texts.map((text, j) => {
    const chunk = {
      index: j,
      text,
      charStart: at,
      charEnd: at + text.length,
      page: null,
      tokens: estimateTokens(text),
    };
    at += text.length + 1;
    return chunk;
  });
  const packed = packChunks(chunks);
  const fileKey = documentKeys.chunks(docId(d));
  const points: ChunkVector[] = texts.map((_text, j) => ({
    documentId: docId(d),
    chunkIndex: j,
    s3Path: chunkPointer(fileKey, packed.ranges[j]!.start, packed.ranges[j]!.end),
    filename: `bench-memory-${d}.txt`,
    contentType: 'text/plain',
    timestamp: new Date(0).toISOString(),
    embeddingModel: embedder.model,
    charStart: chunks[j]!.charStart,
    charEnd: chunks[j]!.charEnd,
    page: null,
    vector: vecs[j]!,
  }));
  // the chunk file first: a document whose vectors are all there is complete on a resumed load
  await blobs.put(userId, fileKey, packed.body, { contentType: 'application/x-ndjson; charset=utf-8' });
  await vectors.upsert(userId, points);
}
await vectors.ensureTenant(userId, embedder.model);
let loaded = 0;
let inserted = 0;
const loadStartedAt = performance.now();
const loadStartLoad = load1();
let nextDoc = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (nextDoc < docs) {
      const d = nextDoc++;
      const have = await vectors.countByDocument(userId, docId(d));
      if (have < PER_DOC) {
        await loadChunks(d, PER_DOC, 3);
        inserted += PER_DOC;
      }
      loaded += PER_DOC;
      if (have < PER_DOC && d % 50 === 0)
        console.error(
          `loaded ${loaded}/${CHUNKS} (${Math.round((performance.now() - loadStartedAt) / 1000)} s, load ${load1()})`,
        );
    }
  }),
);
const load =
  inserted === 0
    ? null
    : {
        vectors: inserted,
        seconds: round((performance.now() - loadStartedAt) / 1000, 1),
        loadAvg1mStart: loadStartLoad,
        loadAvg1mEnd: load1(),
      };

// BENCH_LOAD_ONLY=1: load (or finish loading) the tenant and stop, so the ~9 min load can run
// ahead of the code it will measure
if (process.env.BENCH_LOAD_ONLY === '1') {
  console.error(`tenant ${userId} loaded: ${JSON.stringify(load)}`);
  await services.close();
  process.exit(0);
}

// a run stopped between phases 3 and 4 left the extra document: remove it quietly
const extraId = docId(EXTRA);
await services.documents.purge(userId, extraId);
await sql.execute('DELETE FROM documents WHERE id = ?', [extraId]);

// ---- the worker (a child) and the API (here) ----
// BENCH_WORKER_CPU_PROF=<dir>: a V8 CPU profile of the worker process, written there on its exit
const profileDir = process.env.BENCH_WORKER_CPU_PROF;
const child: ChildProcess = fork('bench/memory-worker.ts', [], {
  execArgv: [...process.execArgv, ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  env: { ...env, WEAVIATE_COLLECTION: config.WEAVIATE_COLLECTION, LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
process.on('exit', () => child.kill('SIGTERM'));
type WorkerReport = {
  lagP99Ms: number;
  lagMaxMs: number;
  peakRssMb: number;
  runPeakRssMb: number;
  atPeakMb: { heapUsed: number; heapTotal: number; external: number };
};
function ask<T>(type: string, answer = type): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string } & T) => {
      if (m.type !== answer) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`the worker exited with ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (type !== answer) return;
    child.send({ type });
  });
}
const ready = await ask<{ rssMb: number }>('start', 'ready');

const app = createApp(services);
const url = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}/graphql`;
const token = issueToken(secret, userId);
const apiLag = monitorEventLoopDelay({ resolution: 10 });
apiLag.enable();

/** `memory { status }` every 50 ms until stopped: the API's loop lag is measured under use. */
function startClient() {
  const latencies: number[] = [];
  let errors = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const at = performance.now();
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ memory { status } }' }),
        });
        const body = (await res.json()) as { errors?: unknown[] };
        if (body.errors?.length) errors++;
      } catch {
        errors++;
      }
      const took = performance.now() - at;
      latencies.push(took);
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - took)));
    }
  })();
  return async () => {
    running = false;
    await done;
    return {
      requests: latencies.length,
      errors,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
    };
  };
}

const STAGES = [
  'QUEUED',
  'VECTORS',
  'CLUSTERING',
  'LABELING',
  'ENTITIES',
  'HIERARCHY',
  'BIO',
  'WRITING',
  'DONE',
];

/** Runs `trigger`, waits for the next build's DONE (of `version` when given) and measures it. */
async function phase(name: string, trigger: () => Promise<string | undefined>) {
  await waitForQuiet(15, 30_000);
  const afterSeq = await events.lastSeq('memory', userId);
  await ask('reset');
  apiLag.reset();
  const machine = machineLoad();
  const workerCpuFrom = processCpuMs(child.pid!);
  const stopClient = startClient();
  const loadStart = load1();
  const started = performance.now();
  const version = await trigger();
  const firstAt = new Map<string, number>();
  let finished: { version: string; stage: string; error: string | null } | undefined;
  const abort = AbortSignal.timeout(BUILD_TIMEOUT_MS);
  for await (const e of events.subscribe('memory', userId, { afterSeq, signal: abort })) {
    if (version && e.version !== version) continue;
    if (!firstAt.has(e.stage)) firstAt.set(e.stage, performance.now());
    if (e.stage === 'DONE' || e.stage === 'FAILED') {
      finished = e;
      break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const client = await stopClient();
  const worker = await ask<WorkerReport>('report');
  if (finished?.stage !== 'DONE')
    throw new Error(
      `${name}: the build ended ${finished?.stage ?? 'never'}: ${finished?.error ?? 'timeout'}`,
    );
  // each stage from its first event to the next stage's first event; `trigger` from the trigger
  // to the build's first event (queue and lock wait)
  const seen = STAGES.filter((s) => firstAt.has(s));
  const stages: Record<string, number> = {
    trigger: round(((firstAt.get(seen[0]!) ?? started) - started) / 1000),
  };
  for (let i = 0; i + 1 < seen.length; i++)
    stages[seen[i]!] = round((firstAt.get(seen[i + 1]!)! - firstAt.get(seen[i]!)!) / 1000);
  const snapshot = await readSnapshot(blobs, userId, finished.version);
  if (!snapshot) throw new Error(`${name}: version ${finished.version} has no snapshot`);
  // purity: Σ over clusters of the largest planted-topic count, over the chunks
  const byCluster = new Map<string, Map<number, number>>();
  for (const c of snapshot.chunks) {
    const counts = byCluster.get(c.clusterId) ?? new Map<number, number>();
    const t = topicOfDoc(indexOfDoc(c.documentId));
    counts.set(t, (counts.get(t) ?? 0) + 1);
    byCluster.set(c.clusterId, counts);
  }
  let majority = 0;
  for (const counts of byCluster.values()) majority += Math.max(...counts.values());
  const result = {
    seconds: round(seconds),
    version: finished.version,
    mode: snapshot.manifest.mode,
    buildMs: snapshot.manifest.params.buildMs,
    stages,
    counts: snapshot.manifest.counts,
    k: snapshot.manifest.params.k,
    silhouette: snapshot.manifest.params.silhouette,
    purity: round(majority / Math.max(1, snapshot.chunks.length), 4),
    apiLagP99Ms: round(apiLag.percentile(99) / 1e6, 1),
    apiLagMaxMs: round(apiLag.max / 1e6, 1),
    workerLagP99Ms: worker.lagP99Ms,
    workerLagMaxMs: worker.lagMaxMs,
    workerPeakRssMb: worker.peakRssMb,
    workerHeapAtPeakMb: worker.atPeakMb,
    workerCpuSeconds: round((processCpuMs(child.pid!) - workerCpuFrom) / 1000, 1),
    client,
    loadAvg1m: { start: loadStart, end: load1() },
    machine: machine(),
  };
  console.error(`${name}: ${JSON.stringify(result)}`);
  return result;
}

const rebuild = (full: boolean) => async () => (await services.memory.rebuild(userId, full)).version;

// 1. cold: every extraction cache removed, so the build scans vectors and reads chunk texts
// (BENCH_COLD=0 keeps them, for a quicker profiling run: firstBuildCold says which it was)
const cold = process.env.BENCH_COLD !== '0';
if (cold) await blobs.deletePrefix(userId, 'memory/extractions/');
const first = await phase('first', rebuild(true));
// 2. warm full build: the target
const full = await phase('full', rebuild(true));
// 3. a 20-chunk document added (loaded as the tenant is, plus its row), then the update an ingest
// schedules (MEMORY_DEBOUNCE_MS=0)
const incremental = await phase('incremental', async () => {
  await loadChunks(EXTRA, EXTRA_CHUNKS, 6);
  await insertRows([EXTRA], EXTRA_CHUNKS, `bench-memory-extra-${Date.now()}`);
  await services.memory.scheduleUpdate(userId, 'ingest');
  return undefined;
});
// 4. that document deleted: DocumentsService.delete schedules the update
const del = await phase('delete', async () => {
  await services.documents.delete(userId, extraId);
  return undefined;
});

child.send({ type: 'stop' });
await new Promise((r) => child.once('exit', r));
const workerRunPeak = Math.max(
  first.workerPeakRssMb,
  full.workerPeakRssMb,
  incremental.workerPeakRssMb,
  del.workerPeakRssMb,
);
await app.close();
await services.close();

const phases = { first, full, incremental, delete: del };
const result = {
  bench: 'memory',
  user: userId,
  collection: config.WEAVIATE_COLLECTION,
  chunks: full.counts.chunks,
  documents: full.counts.documents,
  plantedTopics: TOPICS,
  firstBuildSeconds: first.seconds,
  firstBuildCold: cold,
  fullBuildSeconds: full.seconds,
  incrementalSeconds: incremental.seconds,
  deleteSeconds: del.seconds,
  purity: full.purity,
  eventLoopLagP99Ms: {
    api: Math.max(...Object.values(phases).map((p) => p.apiLagP99Ms)),
    worker: Math.max(...Object.values(phases).map((p) => p.workerLagP99Ms)),
  },
  workerPeakRssMb: workerRunPeak,
  workerIdleRssMb: ready.rssMb,
  k: full.k,
  clusters: full.counts.clusters,
  topics: full.counts.topics,
  entities: full.counts.entities,
  modes: Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, p.mode])),
  purityAfter: Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, p.purity])),
  stages: Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, p.stages])),
  phases: Object.fromEntries(
    Object.entries(phases).map(([k, p]) => [
      k,
      {
        seconds: p.seconds,
        buildMs: p.buildMs,
        apiLagP99Ms: p.apiLagP99Ms,
        apiLagMaxMs: p.apiLagMaxMs,
        workerLagP99Ms: p.workerLagP99Ms,
        workerLagMaxMs: p.workerLagMaxMs,
        workerPeakRssMb: p.workerPeakRssMb,
        workerHeapAtPeakMb: p.workerHeapAtPeakMb,
        workerCpuSeconds: p.workerCpuSeconds,
        client: p.client,
        loadAvg1m: p.loadAvg1m,
        machine: p.machine,
      },
    ]),
  ),
  loadavg: loadavg().map((x) => round(x)),
  cpu: { cores: cpus().length, model: cpus()[0]?.model },
  load,
  labelling: 'offline (MEMORY_LLM=off)',
  embedder: embedder.model,
  corpus: `v2: search v2 generator, the 100 most frequent ranks English stopwords; ${TOPICS} planted topics (document d on d % ${TOPICS}), ${TOPIC_WORDS} disjoint topic words each, 30% topic words`,
};
const line = JSON.stringify(result);
writeFileSync('bench/results/memory.json', `${line}\n`);
console.log(line);
process.exit(0);

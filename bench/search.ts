// `npm run bench -- search`: 100,000 chunks in one tenant, then `search` over GraphQL against a
// baseline of the raw work it wraps (embed + nearVector + S3 fetch of the same hits), and the
// recall of the HNSW index against an exact scan of the same vectors.
// Loading bypasses GraphQL (vectors and chunk objects written directly through the services)
// and is reused across runs: the tenant is fixed and loading resumes where it stopped.
// HNSW build settings are fixed when a collection is created, so each setting gets a collection
// of its own: BENCH_HNSW=64/16 (else VECTOR_HNSW_EF_CONSTRUCTION / VECTOR_HNSW_MAX_CONNECTIONS or
// their defaults) loads into `BenchChunk_ef64_m16`, unless WEAVIATE_COLLECTION names one.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import inspector from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { parseConfig } from '../src/config.ts';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { createApp } from '../src/server.ts';
import { connectWeaviate } from '../src/services/adapters/weaviate/vector-index.weaviate.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { type ChunkVector, tenantName } from '../src/services/ports/vector-index.ts';
import { documentKeys } from '../src/services/tenant-keys.ts';
import { rngFor, VOCAB, WORDS, zipfRank } from './corpus.ts';
import { machineLoad, percentile, serviceCpuMs, sumOf, waitForQuiet } from './stats.ts';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const PER_DOC = 100;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const RECALL_QUERIES = Math.min(Number(process.env.BENCH_RECALL_QUERIES ?? 200), QUERIES);
const LIMIT = 5;
// v2: the realistic corpus below; `bench-search-100k` held the old 39-word one (removed below)
const userId = process.env.BENCH_USER ?? 'bench-search-100k-v2';
const LEGACY = { collection: 'BenchChunk', user: 'bench-search-100k' };
const secret = 'bench-auth-secret-0123456789';

// ---- corpus: deterministic (seeded), Zipf-distributed words from a 6,000-word vocabulary ----
// Pseudo-words built from syllables (so words share character trigrams, as real words do, which
// the local hash embedder sees); frequencies follow Zipf (s = 1); every document has a topic of
// 60 mid/low-frequency words that make up ~30% of its words; chunks are 10–59 words long. On
// 20,000 chunks: every chunk distinct, no ties at the exact top-5/top-10 boundary for 100 queries.
const topic = (d: number) => {
  const rng = rngFor(2, d);
  return Array.from({ length: 60 }, () => 100 + (zipfRank(rng()) % (VOCAB - 100)));
};
const word = (rng: () => number, t: readonly number[]) =>
  WORDS[rng() < 0.3 ? t[Math.floor(rng() * t.length)]! : zipfRank(rng())]!;
/** Chunk i (of document i / PER_DOC). */
function sentence(i: number) {
  const rng = rngFor(3, i);
  const t = topic(Math.floor(i / PER_DOC));
  return Array.from({ length: 10 + Math.floor(rng() * rng() * 50) }, () => word(rng, t)).join(' ');
}
/** Query i: even, a 4–12-word span of a random chunk with ~30% of its words replaced; odd, a fresh 4–12-word sentence on a random document's topic. */
function query(i: number, chunks: number) {
  const rng = rngFor(4, i);
  const c = Math.floor(rng() * chunks);
  const t = topic(Math.floor(c / PER_DOC));
  const len = 4 + Math.floor(rng() * 9);
  if (i % 2 === 1) return Array.from({ length: len }, () => word(rng, t)).join(' ');
  const src = sentence(c).split(' ');
  const at = Math.floor(rng() * (src.length - len + 1));
  return src
    .slice(at, at + len)
    .map((w) => (rng() < 0.3 ? word(rng, t) : w))
    .join(' ');
}

const hnswArg = process.env.BENCH_HNSW;
const hnswMatch = hnswArg?.match(/^(\d+)\/(\d+)$/);
if (hnswArg && !hnswMatch) throw new Error(`BENCH_HNSW must be efConstruction/maxConnections, e.g. 64/16`);
const env = {
  ...process.env,
  ...(hnswMatch
    ? { VECTOR_HNSW_EF_CONSTRUCTION: hnswMatch[1], VECTOR_HNSW_MAX_CONNECTIONS: hnswMatch[2] }
    : {}),
  LOG_LEVEL: 'silent',
  AUTH_SECRET: secret,
  AUTH_ALLOW_ANONYMOUS: 'false',
  // a benchmark is one user at full speed: the per-user quotas would measure themselves
  RATE_LIMIT_SEARCH: '1000000000',
  RATE_LIMIT_REPLIES: '1000000000',
  RATE_LIMIT_UPLOADS: '1000000000',
};
const settings = parseConfig(env);
const config = parseConfig({
  // the benchmark's own collection per HNSW setting, created by the code under test (index
  // settings included) and apart from the tests' data; override with WEAVIATE_COLLECTION
  WEAVIATE_COLLECTION: `BenchChunk_ef${settings.VECTOR_HNSW_EF_CONSTRUCTION}_m${settings.VECTOR_HNSW_MAX_CONNECTIONS}`,
  ...env,
});
const services = await createServices(config, pino({ level: 'silent' }), jobs);
const { embedder, vectors, blobs, orm } = services;
if (vectors.backend !== 'weaviate') throw new Error('the search bench needs VECTOR_BACKEND=weaviate');

// the bench's own admin client: collection settings, candidate counts, unfiltered search, cleanup
const admin = await connectWeaviate({
  url: config.WEAVIATE_URL,
  grpcUrl: config.WEAVIATE_GRPC_URL,
  apiKey: config.WEAVIATE_API_KEY,
});
// the old corpus's tenant (39-word vocabulary, superseded by v2): remove it to free the disk
if (await admin.collections.exists(LEGACY.collection)) {
  const legacy = admin.collections.use(LEGACY.collection);
  if (await legacy.tenants.getByName(tenantName(LEGACY.user))) {
    await legacy.tenants.remove(tenantName(LEGACY.user));
    console.error(`removed tenant ${tenantName(LEGACY.user)} of ${LEGACY.collection} (old corpus)`);
  }
}

await orm.em.getConnection().execute('INSERT INTO users (id) VALUES (?) ON CONFLICT DO NOTHING', [userId]);
// document ids are global (primary key): a prefix of the user's own keeps two bench users apart
const docPrefix = createHash('sha1').update(userId).digest('hex').slice(0, 8);
const docId = (d: number) => `${docPrefix}-0000-4000-8000-${String(d).padStart(12, '0')}`;
const docs = Math.ceil(CHUNKS / PER_DOC);
// documents rows so search can resolve hits to documents
for (let d = 0; d < docs; d += 200) {
  const values = Array.from({ length: Math.min(200, docs - d) }, (_, j) => d + j);
  await orm.em.getConnection().execute(
    `INSERT INTO documents (id, user_id, filename, content_type, s3_path, content_hash, status, processed, chunk_count, embedding_model)
     VALUES ${values.map(() => "(?, ?, ?, 'text/plain', ?, ?, 'processed', true, ?, ?)").join(', ')}
     ON CONFLICT DO NOTHING`,
    values.flatMap((v) => [
      docId(v),
      userId,
      `bench-${v}.txt`,
      `raw/${docId(v)}/bench.txt`,
      String(v).padStart(64, '0'),
      PER_DOC,
      embedder.model,
    ]),
  );
}

// Weaviate's CPU time (every local weaviate-server process) around the load
const weaviateLocal = Object.keys(serviceCpuMs()).some((k) => k.startsWith('weaviate:'));
const weaviateCpuMs = () => (weaviateLocal ? sumOf(serviceCpuMs(), 'weaviate') : Number.NaN);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const load1 = () => round(loadavg()[0]!);

let loaded = 0;
let inserted = 0;
const t = performance.now();
async function loadDoc(d: number) {
  const have = await vectors.countByDocument(userId, docId(d));
  if (have >= PER_DOC) {
    loaded += have;
    return;
  }
  const texts = Array.from({ length: PER_DOC }, (_, j) => sentence(d * PER_DOC + j));
  const vecs = await embedder.embed(texts);
  const points: ChunkVector[] = texts.map((text, j) => ({
    documentId: docId(d),
    chunkIndex: j,
    s3Path: documentKeys.chunk(docId(d), j),
    filename: `bench-${d}.txt`,
    contentType: 'text/plain',
    timestamp: new Date(0).toISOString(),
    embeddingModel: embedder.model,
    charStart: 0,
    charEnd: text.length,
    page: null,
    vector: vecs[j]!,
  }));
  // chunk objects first: a document whose vectors are all there is complete on a resumed load
  await Promise.all(
    texts.map((text, j) =>
      blobs.put(userId, documentKeys.chunk(docId(d), j), text, { contentType: 'text/plain; charset=utf-8' }),
    ),
  );
  await vectors.upsert(userId, points);
  loaded += PER_DOC;
  inserted += PER_DOC;
  if (d % 100 === 0)
    console.error(
      `loaded ${loaded}/${CHUNKS} (${Math.round((performance.now() - t) / 1000)} s, load ${load1()})`,
    );
}
// Weaviate's own background CPU before the load (another process may be using it too)
await vectors.ensureTenant(userId, embedder.model);
const idleFrom = weaviateCpuMs();
await new Promise((r) => setTimeout(r, 3000));
const weaviateIdleCpuMsPerS = (weaviateCpuMs() - idleFrom) / 3;
const loadStart = { cpu: weaviateCpuMs(), load1: load1(), at: performance.now() };
let nextDoc = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (nextDoc < docs) await loadDoc(nextDoc++);
  }),
);
const load =
  inserted === 0
    ? null
    : {
        vectors: inserted,
        seconds: round((performance.now() - loadStart.at) / 1000, 1),
        weaviateCpuMsPerVector: weaviateLocal ? round((weaviateCpuMs() - loadStart.cpu) / inserted, 3) : null,
        weaviateIdleCpuMsPerS: weaviateLocal ? round(weaviateIdleCpuMsPerS, 1) : null,
        loadAvg1mStart: loadStart.load1,
        loadAvg1mEnd: load1(),
      };

// the API in this process (its client shares the event loop); BENCH_API_PROCESS=1 runs it as a
// process of its own instead (`src/main.ts`), which measured slower here (BENCHMARKS.md, search)
let stopApi: () => Promise<unknown>;
let url: string;
if (process.env.BENCH_API_PROCESS !== '1') {
  const app = createApp(services);
  url = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}/graphql`;
  stopApi = () => app.close();
} else {
  const api = spawn(process.execPath, ['src/main.ts'], {
    env: { ...env, WEAVIATE_COLLECTION: config.WEAVIATE_COLLECTION, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.on('exit', () => api.kill('SIGTERM'));
  url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    api.stdout!.on('data', (data: Buffer) => {
      buffer += data.toString();
      const found = /on (http:\/\/\S+\/graphql)/.exec(buffer)?.[1];
      if (found) resolve(found.replace('localhost', '127.0.0.1'));
    });
    api.once('exit', (code) => reject(new Error(`the API exited with ${code}`)));
  });
  stopApi = () => {
    api.kill('SIGTERM');
    return new Promise((r) => api.once('exit', r));
  };
}
const token = issueToken(secret, userId);
const queries = Array.from({ length: QUERIES }, (_, i) => query(i, docs * PER_DOC));

async function viaGraphQL(query: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query:
        'query($q: String!, $l: Int) { search(query: $q, limit: $l) { ... on SearchResults { data { score text chunkIndex document { id filename } } } } }',
      variables: { q: query, l: LIMIT },
    }),
  });
  const body = (await res.json()) as { data?: { search: { data: unknown[] } } };
  if (!body.data?.search.data?.length) throw new Error(`no hits: ${JSON.stringify(body)}`);
}
async function baseline(query: string) {
  const [v] = await embedder.embed([query]);
  const hits = await vectors.search(userId, v!, { limit: LIMIT, embeddingModel: embedder.model });
  await blobs.getMany(
    userId,
    hits.map((h) => h.s3Path),
  );
}

// a load just now leaves Weaviate and MinIO busy for a while: measure once they have settled
const quietBeforeQueries = await waitForQuiet();
// warm up both paths, then interleave so both see the same machine state
for (const q of queries.slice(0, 20)) {
  await viaGraphQL(q);
  await baseline(q);
}
const loadAvg1mQueries = load1();
const queryLoad = machineLoad();
const gql: number[] = [];
const raw: number[] = [];
// BENCH_CPU_PROFILE=<file.cpuprofile>: a V8 CPU profile of the query phase alone
const profiler = process.env.BENCH_CPU_PROFILE ? new inspector.Session() : undefined;
profiler?.connect();
await profiler?.post('Profiler.enable');
await profiler?.post('Profiler.start');
for (const q of queries) {
  let s = performance.now();
  await viaGraphQL(q);
  gql.push(performance.now() - s);
  s = performance.now();
  await baseline(q);
  raw.push(performance.now() - s);
}
const loadDuringQueries = queryLoad();
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  writeFileSync(process.env.BENCH_CPU_PROFILE!, JSON.stringify(profile));
  profiler.disconnect();
}

// Recall of the HNSW index: its top k for the search the app does (nearVector filtered by
// embedding_model) against an exact scan of the same candidate set. Every chunk of the tenant
// has this embedder's model (checked below), so the candidate set is the whole tenant and the
// exact scan covers every loaded vector (regenerated: the corpus is deterministic). A hit counts
// when its exact score reaches the exact k-th score (ties at the boundary are equal answers);
// tiesAtK counts queries whose exact k-th and (k+1)-th scores are equal (within 1e-6).
const tenant = admin.collections.use(config.WEAVIATE_COLLECTION).withTenant(tenantName(userId));
const candidates = (await tenant.aggregate.overAll()).totalCount;
const candidatesWithModel = (
  await tenant.aggregate.overAll({
    filters: tenant.filter.byProperty('embedding_model').equal(embedder.model),
  })
).totalCount;
if (candidates !== candidatesWithModel || candidates !== docs * PER_DOC)
  throw new Error(
    `tenant holds ${candidates} vectors, ${candidatesWithModel} of ${embedder.model}; expected ${docs * PER_DOC}`,
  );
const DIMS = embedder.dimensions;
const all = new Float32Array(docs * PER_DOC * DIMS);
for (let from = 0; from < docs * PER_DOC; from += 5000) {
  const n = Math.min(5000, docs * PER_DOC - from);
  const vs = await embedder.embed(Array.from({ length: n }, (_, j) => sentence(from + j)));
  vs.forEach((v, j) => {
    all.set(v, (from + j) * DIMS);
  });
}
const norms = new Float64Array(docs * PER_DOC);
for (let i = 0; i < norms.length; i++) {
  let n = 0;
  for (let k = i * DIMS; k < (i + 1) * DIMS; k++) n += all[k]! * all[k]!;
  norms[i] = Math.sqrt(n);
}
const TOP = 11;
const TIE = 1e-6;
const indexOf = (documentId: string, chunkIndex: number) =>
  Number(documentId.slice(-12)) * PER_DOC + chunkIndex;
const recall = { at5: 0, at10: 0, at5Unfiltered: 0, at10Unfiltered: 0, tiesAt5: 0, tiesAt10: 0 };
for (const q of queries.slice(0, RECALL_QUERIES)) {
  const [qv] = await embedder.embed([q]);
  const qf = Float32Array.from(qv!);
  const qn = Math.hypot(...qf);
  const score = (i: number) => {
    let dot = 0;
    for (let k = 0, o = i * DIMS; k < DIMS; k++) dot += qf[k]! * all[o + k]!;
    return norms[i] === 0 || qn === 0 ? 0 : dot / (qn * norms[i]!);
  };
  const top: number[] = []; // exact top TOP scores, descending
  for (let i = 0; i < norms.length; i++) {
    const s = score(i);
    if (top.length === TOP && s <= top[TOP - 1]!) continue;
    let at = top.length === TOP ? TOP - 1 : top.length;
    while (at > 0 && top[at - 1]! < s) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = s;
  }
  if (top[4]! - top[5]! <= TIE) recall.tiesAt5++;
  if (top[9]! - top[10]! <= TIE) recall.tiesAt10++;
  const correct = (ids: { documentId: string; chunkIndex: number }[], k: number) =>
    ids.slice(0, k).filter((h) => score(indexOf(h.documentId, h.chunkIndex)) >= top[k - 1]! - TIE).length;
  for (const k of [5, 10] as const) {
    const filtered = await vectors.search(userId, qv!, { limit: k, embeddingModel: embedder.model });
    const unfiltered = await tenant.query.nearVector(qv!, {
      limit: k,
      returnProperties: ['document_id', 'chunk_index'],
    });
    recall[`at${k}`] += correct(filtered, k) / k;
    recall[`at${k}Unfiltered`] +=
      correct(
        unfiltered.objects.map((o) => ({
          documentId: String(o.properties.document_id),
          chunkIndex: Number(o.properties.chunk_index),
        })),
        k,
      ) / k;
  }
}

// the settings the collection was really built with (an existing collection keeps its own)
const indexConfig = (await admin.collections.use(config.WEAVIATE_COLLECTION).config.get()).vectorizers.default
  ?.indexConfig as { efConstruction?: number; maxConnections?: number; ef?: number } | undefined;

await stopApi();
await services.close();
await admin.close();
const p50 = percentile(gql, 50);
const baselineP50Ms = percentile(raw, 50);
const result = {
  bench: 'search',
  collection: config.WEAVIATE_COLLECTION,
  hnsw: `${indexConfig?.efConstruction}/${indexConfig?.maxConnections}`,
  ef: indexConfig?.ef,
  chunks: loaded,
  queries: QUERIES,
  limit: LIMIT,
  p50Ms: round(p50),
  p99Ms: round(percentile(gql, 99)),
  baselineP50Ms: round(baselineP50Ms),
  baselineP99Ms: round(percentile(raw, 99)),
  ratioP50: round(p50 / baselineP50Ms),
  loadAvg1mQueries,
  machine: { beforeQueries: quietBeforeQueries, duringQueries: loadDuringQueries },
  recallQueries: RECALL_QUERIES,
  recallAt5: round(recall.at5 / RECALL_QUERIES, 3),
  recallAt10: round(recall.at10 / RECALL_QUERIES, 3),
  recallAt5Unfiltered: round(recall.at5Unfiltered / RECALL_QUERIES, 3),
  recallAt10Unfiltered: round(recall.at10Unfiltered / RECALL_QUERIES, 3),
  tiesAt5: recall.tiesAt5,
  tiesAt10: recall.tiesAt10,
  recallCandidates: `all ${candidates} chunks of the tenant (every one ${embedder.model}: the filter keeps all)`,
  load,
  corpus: 'v2: 6,000 pseudo-words, Zipf s=1, per-document topics, 10–59 words per chunk (seeded)',
  cache:
    'none across requests: chunk text is read from S3 per request (per-request DataLoader), baseline reads the same hits',
  embedder: embedder.model,
};
const line = JSON.stringify(result);
writeFileSync('bench/results/search.json', `${line}\n`);
console.log(line);
process.exit(0);

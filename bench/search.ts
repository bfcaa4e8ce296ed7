// `npm run bench -- search`: 100,000 chunks in one tenant, then hybrid `search` over GraphQL
// against a baseline of the raw work it wraps (embed, then nearVector and the full-text query in
// parallel, fused, then the ranged S3 reads of the same hits), each side alone, and the recall of
// the HNSW index against an exact scan for each query ef (BENCH_EF_SWEEP), on the hash embedder's
// vectors of all 100,000 chunks and on all-MiniLM-L6-v2 vectors of a subset (BENCH_MODEL_CHUNKS).
// Loading bypasses GraphQL (chunk files in the packed layout, vectors and lexical rows written
// directly through the services) and is reused across runs: the tenant is fixed and loading
// resumes where it stopped.
// HNSW build settings are fixed when a collection is created, so each setting gets a collection
// of its own: BENCH_HNSW=64/16 (else VECTOR_HNSW_EF_CONSTRUCTION / VECTOR_HNSW_MAX_CONNECTIONS or
// their defaults) loads into `BenchChunk_ef64_m16`, unless WEAVIATE_COLLECTION names one.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import inspector from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import weaviate from 'weaviate-client';
import { parseConfig } from '../src/config.ts';
import { createEmbedder, createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { createApp } from '../src/server.ts';
import { connectWeaviate } from '../src/services/adapters/weaviate/vector-index.weaviate.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { packChunks } from '../src/services/documents/chunk-file.ts';
import { fuseByReciprocalRank } from '../src/services/documents/fusion.ts';
import type { Chunk } from '../src/services/documents/ingest/chunker.ts';
import type { Embedder } from '../src/services/ports/embedder.ts';
import { type ChunkVector, tenantName } from '../src/services/ports/vector-index.ts';
import { chunkPointer, documentKeys, parseChunkPointer } from '../src/services/tenant-keys.ts';
import { rngFor, VOCAB, WORDS, zipfRank } from './corpus.ts';
import { machineLoad, percentile, serviceCpuMs, sumOf, waitForQuiet } from './stats.ts';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const PER_DOC = 100;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const RECALL_QUERIES = Math.min(Number(process.env.BENCH_RECALL_QUERIES ?? 200), QUERIES);
const LIMIT = 5;
const MODEL_CHUNKS = Number(process.env.BENCH_MODEL_CHUNKS ?? 10_000);
// v3: the v2 corpus below in the packed chunk layout with its lexical rows; earlier tenants held
// per-chunk objects (removed below)
const userId = process.env.BENCH_USER ?? 'bench-search-100k-v3';
const LEGACY = [
  { collection: 'BenchChunk', user: 'bench-search-100k' },
  { collection: 'BenchChunk_ef128_m32', user: 'bench-search-100k-v2' },
];
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
  // the latency part measures the storage and search path, not the model: the hash embedder, as
  // the ingest bench (BENCH_EMBEDDER=local-model to measure with the model's query embedding too)
  EMBEDDER: process.env.BENCH_EMBEDDER ?? 'local-hash',
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
const { embedder, vectors, lexical, blobs, orm } = services;
if (vectors.backend !== 'weaviate') throw new Error('the search bench needs VECTOR_BACKEND=weaviate');
const db = orm.em.getConnection();
const fusion = {
  vector: config.SEARCH_VECTOR_WEIGHT,
  lexical: config.SEARCH_LEXICAL_WEIGHT,
  k: config.SEARCH_RRF_K,
};
const CANDIDATES = Math.max(LIMIT, config.SEARCH_CANDIDATES);

// the bench's own admin client: collection settings, query ef, unfiltered search, cleanup
const admin = await connectWeaviate({
  url: config.WEAVIATE_URL,
  grpcUrl: config.WEAVIATE_GRPC_URL,
  apiKey: config.WEAVIATE_API_KEY,
});
// earlier corpora's tenants (per-chunk objects, no lexical rows): remove them to free the disk
for (const legacy of LEGACY) {
  if (!(await admin.collections.exists(legacy.collection))) continue;
  const c = admin.collections.use(legacy.collection);
  if (await c.tenants.getByName(tenantName(legacy.user))) {
    await c.tenants.remove(tenantName(legacy.user));
    console.error(`removed tenant ${tenantName(legacy.user)} of ${legacy.collection} (old corpus)`);
  }
}

await db.execute('INSERT INTO users (id) VALUES (?) ON CONFLICT DO NOTHING', [userId]);
// document ids are global (primary key): a prefix of the user's own keeps two bench users apart
const docIdOf = (user: string) => {
  const prefix = createHash('sha1').update(user).digest('hex').slice(0, 8);
  return (d: number) => `${prefix}-0000-4000-8000-${String(d).padStart(12, '0')}`;
};
const docId = docIdOf(userId);
const docs = Math.ceil(CHUNKS / PER_DOC);
// documents rows so search can resolve hits to documents (the lexical side joins them too); a row
// some worker's start-up re-embedding took (REEMBED_ON_START: another embedder's worker re-ingests
// every tenant's documents, and these have no raw file) is put back, and its chunks reloaded below
for (let d = 0; d < docs; d += 200) {
  const values = Array.from({ length: Math.min(200, docs - d) }, (_, j) => d + j);
  await db.execute(
    `INSERT INTO documents (id, user_id, filename, content_type, s3_path, content_hash, status, processed, chunk_count, embedding_model)
     VALUES ${values.map(() => "(?, ?, ?, 'text/plain', ?, ?, 'processed', true, ?, ?)").join(', ')}
     ON CONFLICT (id) DO UPDATE SET status = 'processed', processed = true, error = NULL,
       chunk_count = EXCLUDED.chunk_count, embedding_model = EXCLUDED.embedding_model
       WHERE documents.user_id = EXCLUDED.user_id`,
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

/** A document's chunks as the ingest writes them (one line each in its chunk file). */
function chunksOf(d: number): Chunk[] {
  let at = 0;
  return Array.from({ length: PER_DOC }, (_, j) => {
    const text = sentence(d * PER_DOC + j);
    const chunk = {
      index: j,
      text,
      charStart: at,
      charEnd: at + text.length,
      page: null,
      tokens: text.split(' ').length,
    };
    at += text.length + 1;
    return chunk;
  });
}

let loaded = 0;
let inserted = 0;
const t = performance.now();
async function loadDoc(d: number) {
  const [haveVectors, haveTerms] = await Promise.all([
    vectors.countByDocument(userId, docId(d), embedder.model),
    lexical.countByDocument(userId, docId(d)),
  ]);
  if (haveVectors >= PER_DOC && haveTerms >= PER_DOC) {
    loaded += PER_DOC;
    return;
  }
  const chunks = chunksOf(d);
  const vecs = await embedder.embed(chunks.map((c) => c.text));
  // the packed layout (DESIGN §4): one chunk file per document, each chunk read by its pointer
  const key = documentKeys.chunks(docId(d));
  const { body, ranges } = packChunks(chunks);
  await blobs.put(userId, key, body, { contentType: 'application/x-ndjson' });
  const pointers = ranges.map((r) => chunkPointer(key, r.start, r.end));
  const points: ChunkVector[] = chunks.map((c, j) => ({
    documentId: docId(d),
    chunkIndex: j,
    s3Path: pointers[j]!,
    filename: `bench-${d}.txt`,
    contentType: 'text/plain',
    timestamp: new Date(0).toISOString(),
    embeddingModel: embedder.model,
    charStart: c.charStart,
    charEnd: c.charEnd,
    page: null,
    vector: vecs[j]!,
  }));
  // chunk file first: a document whose vectors and terms are all there is complete on a resumed load
  await Promise.all([
    vectors.upsert(userId, points),
    lexical.replaceDocument(
      userId,
      docId(d),
      chunks.map((c, j) => ({
        documentId: docId(d),
        chunkIndex: j,
        s3Path: pointers[j]!,
        charStart: c.charStart,
        charEnd: c.charEnd,
        page: null,
        text: c.text,
      })),
    ),
  ]);
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
// the lexical side picks a query's lexemes by the column's statistics: what autovacuum's ANALYZE
// keeps after a large load, taken now instead of waiting for it
const [stats] = await db.execute<{ n: number }[]>(
  "SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'chunk_terms' AND attname = 'tsv'",
);
if (inserted > 0 || !stats?.n) await db.execute('ANALYZE chunk_terms');

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

const matched = { VECTOR: 0, LEXICAL: 0, BOTH: 0 };
async function viaGraphQL(query: string, count = false) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query:
        'query($q: String!, $l: Int) { search(query: $q, limit: $l) { ... on SearchResults { data { score matchedBy text chunkIndex document { id filename } } } } }',
      variables: { q: query, l: LIMIT },
    }),
  });
  const body = (await res.json()) as {
    data?: { search: { data: { matchedBy: keyof typeof matched; text: string }[] } };
  };
  const hits = body.data?.search.data;
  if (!hits?.length || hits.some((h) => !h.text))
    throw new Error(`no hits or no text: ${JSON.stringify(body)}`);
  if (count) for (const h of hits) matched[h.matchedBy]++;
}
const hitKey = (h: { documentId: string; chunkIndex: number }) => `${h.documentId}\u0000${h.chunkIndex}`;
/** The raw chain: nearVector and the full-text query in parallel, fused, then the hits' bytes by pointer. */
async function baseline(query: string) {
  const lexicalHits = lexical.search(userId, query, { limit: CANDIDATES, embeddingModel: embedder.model });
  const [v] = await embedder.embed([query]);
  const [vectorHits, termHits] = await Promise.all([
    vectors.search(userId, v!, { limit: CANDIDATES, embeddingModel: embedder.model }),
    lexicalHits,
  ]);
  const top = fuseByReciprocalRank(vectorHits, termHits, { vector: hitKey, lexical: hitKey }, fusion, LIMIT);
  const ranges = top.map((f) => parseChunkPointer((f.vector?.item ?? f.lexical!.item).s3Path)!);
  const bodies = await blobs.getRanges(userId, ranges);
  if (bodies.length === 0 || bodies.some((b) => !(b instanceof Buffer)))
    throw new Error('baseline: a hit is gone');
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
  await viaGraphQL(q, true);
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
// each side alone, for where the time goes
const sides = { vector: [] as number[], lexical: [] as number[], embed: [] as number[] };
for (const q of queries.slice(0, 100)) {
  let s = performance.now();
  const [v] = await embedder.embed([q]);
  sides.embed.push(performance.now() - s);
  s = performance.now();
  await vectors.search(userId, v!, { limit: CANDIDATES, embeddingModel: embedder.model });
  sides.vector.push(performance.now() - s);
  s = performance.now();
  await lexical.search(userId, q, { limit: CANDIDATES, embeddingModel: embedder.model });
  sides.lexical.push(performance.now() - s);
}

// ---- recall of the HNSW index against an exact scan, for each query ef ----
// The app's search is nearVector filtered by embedding_model; every chunk of a bench tenant has
// the tenant's model (checked below), so the candidate set is the whole tenant and an exact scan
// of its vectors is the truth. A hit counts when its exact score reaches the exact k-th score
// (ties at the boundary are equal answers); tiesAt5 counts queries whose exact 5th and 6th scores
// are equal (within 1e-6). ef is a collection setting (Weaviate: mutable); each is set in turn on
// the bench's collection, the configured one restored at the end.
const TIE = 1e-6;
const efSweep = (process.env.BENCH_EF_SWEEP ?? '-1,64,100,160,256')
  .split(',')
  .map((x) => Number(x.trim()))
  .filter((x) => Number.isInteger(x));

async function setEf(collection: string, ef: number) {
  const c = admin.collections.use(collection);
  await c.config.update({
    vectorizers: [
      weaviate.reconfigure.vectors.update({
        name: 'default',
        vectorIndexConfig: weaviate.reconfigure.vectorIndex.hnsw({ ef }),
      }),
    ],
  });
  for (let i = 0; i < 50; i++) {
    const now = (await c.config.get()).vectorizers.default?.indexConfig as { ef?: number } | undefined;
    if (now?.ef === ef) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ef of ${collection} did not become ${ef}`);
}

interface RecallCase {
  tenant: string;
  collection: string;
  embedder: Embedder;
  /** Every vector of the tenant, row i = chunk i. */
  all: Float32Array;
  count: number;
  queries: string[];
  indexOf: (documentId: string, chunkIndex: number) => number;
}

async function recallSweep(c: RecallCase) {
  const DIMS = c.embedder.dimensions;
  const norms = new Float64Array(c.count);
  for (let i = 0; i < c.count; i++) {
    let n = 0;
    for (let k = i * DIMS; k < (i + 1) * DIMS; k++) n += c.all[k]! * c.all[k]!;
    norms[i] = Math.sqrt(n);
  }
  // exact top 6 scores per query, once
  const qvs = await c.embedder.embed(c.queries);
  const truth = qvs.map((qv) => {
    const qf = Float32Array.from(qv);
    const qn = Math.hypot(...qf);
    const score = (i: number) => {
      let dot = 0;
      for (let k = 0, o = i * DIMS; k < DIMS; k++) dot += qf[k]! * c.all[o + k]!;
      return norms[i] === 0 || qn === 0 ? 0 : dot / (qn * norms[i]!);
    };
    const top: number[] = [];
    for (let i = 0; i < c.count; i++) {
      const s = score(i);
      if (top.length === 6 && s <= top[5]!) continue;
      let at = top.length === 6 ? 5 : top.length;
      while (at > 0 && top[at - 1]! < s) {
        top[at] = top[at - 1]!;
        at--;
      }
      top[at] = s;
    }
    return { score, top };
  });
  const tenant = admin.collections.use(c.collection).withTenant(tenantName(c.tenant));
  const correct = (q: number, ids: { documentId: string; chunkIndex: number }[]) =>
    ids
      .slice(0, 5)
      .filter((h) => truth[q]!.score(c.indexOf(h.documentId, h.chunkIndex)) >= truth[q]!.top[4]! - TIE)
      .length / 5;
  const rows = [];
  for (const ef of efSweep) {
    await setEf(c.collection, ef);
    let filtered = 0;
    let unfiltered = 0;
    const ms: number[] = [];
    for (const [q, qv] of qvs.entries()) {
      const s = performance.now();
      const hits = await vectors.search(c.tenant, qv, { limit: 5, embeddingModel: c.embedder.model });
      ms.push(performance.now() - s);
      filtered += correct(q, hits);
      const plain = await tenant.query.nearVector(qv, {
        limit: 5,
        returnProperties: ['document_id', 'chunk_index'],
      });
      unfiltered += correct(
        q,
        plain.objects.map((o) => ({
          documentId: String(o.properties.document_id),
          chunkIndex: Number(o.properties.chunk_index),
        })),
      );
    }
    rows.push({
      ef,
      recallAt5: round(filtered / qvs.length, 3),
      recallAt5Unfiltered: round(unfiltered / qvs.length, 3),
      nearVectorP50Ms: round(percentile(ms, 50)),
      nearVectorP99Ms: round(percentile(ms, 99)),
    });
  }
  await setEf(c.collection, config.VECTOR_HNSW_EF);
  return { tiesAt5: truth.filter((t) => t.top[4]! - t.top[5]! <= TIE).length, sweep: rows };
}

const admTenant = admin.collections.use(config.WEAVIATE_COLLECTION).withTenant(tenantName(userId));
const candidates = (await admTenant.aggregate.overAll()).totalCount;
const candidatesWithModel = (
  await admTenant.aggregate.overAll({
    filters: admTenant.filter.byProperty('embedding_model').equal(embedder.model),
  })
).totalCount;
if (candidates !== candidatesWithModel || candidates !== docs * PER_DOC)
  throw new Error(
    `tenant holds ${candidates} vectors, ${candidatesWithModel} of ${embedder.model}; expected ${docs * PER_DOC}`,
  );
const hashAll = new Float32Array(docs * PER_DOC * embedder.dimensions);
for (let from = 0; from < docs * PER_DOC; from += 5000) {
  const n = Math.min(5000, docs * PER_DOC - from);
  const vs = await embedder.embed(Array.from({ length: n }, (_, j) => sentence(from + j)));
  vs.forEach((v, j) => {
    hashAll.set(v, (from + j) * embedder.dimensions);
  });
}
const byIndex = (documentId: string, chunkIndex: number) =>
  Number(documentId.slice(-12)) * PER_DOC + chunkIndex;
const hashRecall = await recallSweep({
  tenant: userId,
  collection: config.WEAVIATE_COLLECTION,
  embedder,
  all: hashAll,
  count: docs * PER_DOC,
  queries: queries.slice(0, RECALL_QUERIES),
  indexOf: byIndex,
});

// ---- the same on real-model vectors (all-MiniLM-L6-v2), on a subset ----
// Embedding with the model on this machine's CPUs is too slow for 100,000 chunks here, so a
// tenant of its own holds the first BENCH_MODEL_CHUNKS chunks of the same corpus (0: skipped).
// Its vectors are read back from Weaviate for the exact scan (a resumed run does not re-embed).
let modelRecall: unknown = { skipped: 'BENCH_MODEL_CHUNKS=0' };
if (MODEL_CHUNKS > 0) {
  const modelConfig = parseConfig({
    ...env,
    EMBEDDER: 'local-model',
    WEAVIATE_COLLECTION: config.WEAVIATE_COLLECTION,
  });
  const model = await createEmbedder(modelConfig).catch((error: Error) => error);
  if (model instanceof Error) modelRecall = { skipped: `the embedded model did not load: ${model.message}` };
  else {
    const modelUser = `${userId}-model`;
    const modelDoc = docIdOf(modelUser);
    const modelDocs = Math.ceil(MODEL_CHUNKS / PER_DOC);
    const collection = (vectors as unknown as { collectionOf(m: string): string }).collectionOf(model.model);
    await vectors.ensureTenant(modelUser, model.model);
    const started = performance.now();
    let embedded = 0;
    for (let d = 0; d < modelDocs; d++) {
      if ((await vectors.countByDocument(modelUser, modelDoc(d), model.model)) >= PER_DOC) continue;
      const chunks = chunksOf(d);
      const vecs = await model.embed(chunks.map((c) => c.text));
      await vectors.upsert(
        modelUser,
        chunks.map((c, j) => ({
          documentId: modelDoc(d),
          chunkIndex: j,
          s3Path: chunkPointer(documentKeys.chunks(modelDoc(d)), 0, 1),
          filename: `bench-${d}.txt`,
          contentType: 'text/plain',
          timestamp: new Date(0).toISOString(),
          embeddingModel: model.model,
          charStart: c.charStart,
          charEnd: c.charEnd,
          page: null,
          vector: vecs[j]!,
        })),
      );
      embedded += PER_DOC;
      if (d % 10 === 0) console.error(`model vectors ${d * PER_DOC}/${MODEL_CHUNKS} (load ${load1()})`);
    }
    const embedSeconds = (performance.now() - started) / 1000;
    const all = new Float32Array(modelDocs * PER_DOC * model.dimensions);
    for (let d = 0; d < modelDocs; d++) {
      const scanned = await vectors.scan(modelUser, { documentId: modelDoc(d), embeddingModel: model.model });
      for (const s of scanned) all.set(s.vector, (d * PER_DOC + s.chunkIndex) * model.dimensions);
    }
    modelRecall = {
      embedder: model.model,
      chunks: modelDocs * PER_DOC,
      collection,
      embeddedNow: embedded,
      embedChunksPerSec: embedded > 0 ? round(embedded / embedSeconds, 1) : null,
      note: `filtered search of a tenant under Weaviate's flatSearchCutoff (40,000) is an exact flat scan: recallAt5Unfiltered is the HNSW graph's`,
      ...(await recallSweep({
        tenant: modelUser,
        collection,
        embedder: model,
        all,
        count: modelDocs * PER_DOC,
        queries: Array.from({ length: RECALL_QUERIES }, (_, i) => query(i, modelDocs * PER_DOC)),
        indexOf: byIndex,
      })),
    };
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
const atEf = hashRecall.sweep.find((r) => r.ef === config.VECTOR_HNSW_EF);
const hits = matched.VECTOR + matched.LEXICAL + matched.BOTH;
const result = {
  bench: 'search',
  mode: 'hybrid',
  collection: config.WEAVIATE_COLLECTION,
  hnsw: `${indexConfig?.efConstruction}/${indexConfig?.maxConnections}`,
  ef: indexConfig?.ef,
  fusion: { ...fusion, candidates: CANDIDATES },
  chunks: loaded,
  queries: QUERIES,
  limit: LIMIT,
  p50Ms: round(p50),
  p99Ms: round(percentile(gql, 99)),
  baselineP50Ms: round(baselineP50Ms),
  baselineP99Ms: round(percentile(raw, 99)),
  ratioP50: round(p50 / baselineP50Ms),
  sidesP50Ms: {
    embed: round(percentile(sides.embed, 50)),
    nearVector: round(percentile(sides.vector, 50)),
    fullText: round(percentile(sides.lexical, 50)),
  },
  sidesP99Ms: {
    nearVector: round(percentile(sides.vector, 99)),
    fullText: round(percentile(sides.lexical, 99)),
  },
  matchedBy: {
    vector: round(matched.VECTOR / hits, 3),
    lexical: round(matched.LEXICAL / hits, 3),
    both: round(matched.BOTH / hits, 3),
  },
  loadAvg1mQueries,
  machine: { beforeQueries: quietBeforeQueries, duringQueries: loadDuringQueries },
  recallQueries: RECALL_QUERIES,
  recallAt5: atEf?.recallAt5 ?? null,
  recallAt5Unfiltered: atEf?.recallAt5Unfiltered ?? null,
  tiesAt5: hashRecall.tiesAt5,
  efSweep: hashRecall.sweep,
  recallCandidates: `all ${candidates} chunks of the tenant (every one ${embedder.model}: the filter keeps all)`,
  model: modelRecall,
  load,
  corpus: 'v2: 6,000 pseudo-words, Zipf s=1, per-document topics, 10–59 words per chunk (seeded)',
  layout: 'packed: chunks/{documentId}.jsonl, each hit read by its pointer (ranged GET)',
  cache:
    'GraphQL path: ChunkTextLoader (process LRU, checked against the document row); baseline: ranged GETs of the same hits, no cache',
  embedder: embedder.model,
};
const line = JSON.stringify(result);
writeFileSync('bench/results/search.json', `${line}\n`);
console.log(line);
process.exit(0);

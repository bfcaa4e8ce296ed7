// `npm run bench -- search`: 100,000 chunks in one tenant, then `search` over GraphQL against a
// baseline of the raw work it wraps (embed + nearVector + S3 fetch of the same hits).
// Loading bypasses GraphQL (vectors and chunk objects written directly through the services)
// and is reused across runs: the tenant is fixed and loading resumes where it stopped.
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { parseConfig } from '../src/config.ts';
import { createApp } from '../src/server.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { createServices } from '../src/services/container.ts';
import { chunkKey } from '../src/services/documents.service.ts';
import type { ChunkVector } from '../src/services/vector-index.ts';
import { percentile } from './stats.ts';

const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 100_000);
const PER_DOC = 100;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const LIMIT = 5;
const userId = process.env.BENCH_USER ?? 'bench-search-100k';
const secret = 'bench-auth-secret-0123456789';

const WORDS = (
  'river mountain engine garden letter market winter summer violin harbour orchard glacier copper ' +
  'lantern meadow thunder library canvas pepper castle forest island planet mirror shadow silver ' +
  'teacher kitchen rocket window bridge candle desert valley coffee station anchor feather marble'
).split(' ');
const sentence = (i: number) =>
  Array.from({ length: 30 }, (_, k) => WORDS[(i * 7919 + k * 104729 + ((i * k) % 37)) % WORDS.length]).join(
    ' ',
  );

const config = parseConfig({
  // the benchmark's own collection, created by the code under test (index settings included) and
  // apart from the tests' data; override with WEAVIATE_COLLECTION
  WEAVIATE_COLLECTION: 'BenchChunk',
  ...process.env,
  LOG_LEVEL: 'silent',
  AUTH_SECRET: secret,
  AUTH_ALLOW_ANONYMOUS: 'false',
});
const services = await createServices(config, pino({ level: 'silent' }));
const { embedder, vectors, blobs, orm } = services;
await orm.em.getConnection().execute('INSERT INTO users (id) VALUES (?) ON CONFLICT DO NOTHING', [userId]);

const docId = (d: number) => `00000000-0000-4000-8000-${String(d).padStart(12, '0')}`;
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
let loaded = 0;
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
    s3Path: chunkKey(docId(d), j),
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
      blobs.put(userId, chunkKey(docId(d), j), text, { contentType: 'text/plain; charset=utf-8' }),
    ),
  );
  await vectors.upsert(userId, points);
  loaded += PER_DOC;
  if (d % 100 === 0)
    console.error(`loaded ${loaded}/${CHUNKS} (${Math.round((performance.now() - t) / 1000)} s)`);
}
let nextDoc = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (nextDoc < docs) await loadDoc(nextDoc++);
  }),
);

const app = createApp(services);
const port = await app.listen(0, '127.0.0.1');
const url = `http://127.0.0.1:${port}/graphql`;
const token = issueToken(secret, userId);
const queries = Array.from({ length: QUERIES }, (_, i) =>
  sentence(i * 31 + 7)
    .split(' ')
    .slice(0, 6)
    .join(' '),
);
const round = (x: number) => Math.round(x * 100) / 100;

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

// warm up both paths, then interleave so both see the same machine state
for (const q of queries.slice(0, 20)) {
  await viaGraphQL(q);
  await baseline(q);
}
const gql: number[] = [];
const raw: number[] = [];
for (const q of queries) {
  let s = performance.now();
  await viaGraphQL(q);
  gql.push(performance.now() - s);
  s = performance.now();
  await baseline(q);
  raw.push(performance.now() - s);
}

// recall@LIMIT of the HNSW index against exact search over every loaded vector (first 50
// queries): a hit counts when its score reaches the exact LIMIT-th score (ties are equal answers)
const RECALL_QUERIES = Math.min(50, QUERIES);
const all: Float32Array[] = [];
for (let from = 0; from < docs * PER_DOC; from += 5000) {
  const n = Math.min(5000, docs * PER_DOC - from);
  const vs = await embedder.embed(Array.from({ length: n }, (_, j) => sentence(from + j)));
  for (const v of vs) all.push(Float32Array.from(v));
}
let found = 0;
for (const q of queries.slice(0, RECALL_QUERIES)) {
  const [qv] = await embedder.embed([q]);
  const qf = Float32Array.from(qv!);
  const qn = Math.hypot(...qf);
  const top: number[] = [];
  for (const v of all) {
    let dot = 0;
    let vn = 0;
    for (let k = 0; k < v.length; k++) {
      dot += qf[k]! * v[k]!;
      vn += v[k]! * v[k]!;
    }
    const score = vn === 0 || qn === 0 ? 0 : dot / (qn * Math.sqrt(vn));
    if (top.length < LIMIT || score > top[top.length - 1]!) {
      top.push(score);
      top.sort((a, b) => b - a);
      if (top.length > LIMIT) top.pop();
    }
  }
  const hits = await vectors.search(userId, qv!, { limit: LIMIT, embeddingModel: embedder.model });
  const kth = top[top.length - 1]!;
  found += hits.filter((h) => h.score >= kth - 1e-4).length;
}
const recallAtLimit = found / (RECALL_QUERIES * LIMIT);

await app.close();
await services.close();
const p50 = percentile(gql, 50);
const baselineP50Ms = percentile(raw, 50);
const result = {
  bench: 'search',
  chunks: loaded,
  queries: QUERIES,
  limit: LIMIT,
  p50Ms: round(p50),
  p99Ms: round(percentile(gql, 99)),
  baselineP50Ms: round(baselineP50Ms),
  baselineP99Ms: round(percentile(raw, 99)),
  ratioP50: round(p50 / baselineP50Ms),
  recallAt5: round(recallAtLimit),
  cache:
    'none across requests: chunk text is read from S3 per request (per-request DataLoader), baseline reads the same hits',
  embedder: embedder.model,
};
const line = JSON.stringify(result);
writeFileSync('bench/results/search.json', `${line}\n`);
console.log(line);
process.exit(0);

// `npm run bench -- retrieval`: recall@5 and MRR of paraphrased questions over a personal corpus
// (tests/fixtures/twin-eval, written for this project). The corpus is uploaded and ingested through
// the real pipeline (container, queue, in-process workers, S3, Weaviate, PostgreSQL) once per
// embedder, then each answerable question is asked of the real RetrievalService:
// - `hash`:   vector side only, local hash embedder;
// - `model`:  vector side only, the embedded semantic model (all-MiniLM-L6-v2);
// - `hybrid`: vector (model) + PostgreSQL full-text, fused by reciprocal rank with the configured
//             weights (SEARCH_VECTOR_WEIGHT, SEARCH_LEXICAL_WEIGHT, SEARCH_RRF_K, SEARCH_CANDIDATES);
//             `hybrid.sweep` tries other weights on the same index, best first.
// A question is a hit at rank r when the r-th chunk holds one of its evidence quotes (its text
// contains the quote, or its char range covers at least half of the quote's range in the
// extracted text). recallAt5: hit within the top 5; mrr: 1/rank of the first hit within the top 10.
// Beside them, `lookups`: the rare names and numbers of the answers asked alone ("1:52:40"), and
// `topVectorScore`: the best similarity of answerable against unanswerable questions.
// A variant whose parts are missing (no semantic embedder installed, no lexical index) is reported
// as { skipped: why }. BENCH_RETRIEVAL_VARIANTS=hash,model,hybrid picks variants;
// BENCH_RETRIEVAL_SWEEP=0 skips the weight sweep; BENCH_RETRIEVAL_EXPLAIN=1 prints hybrid's misses.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { type Config, parseConfig } from '../src/config.ts';
import { createServices, type Services } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { migrateUp } from '../src/services/adapters/postgres/orm.ts';
import type { FusionWeights } from '../src/services/documents/fusion.ts';
import { extractText } from '../src/services/documents/ingest/extract.ts';
import { type RetrievalHit, RetrievalService } from '../src/services/documents/retrieval.service.ts';
import type { Embedder } from '../src/services/ports/embedder.ts';
import { startWorkers } from '../src/worker-runtime.ts';
import { removeUsers } from '../tests/helpers/cleanup.ts';
import { percentile } from './stats.ts';

const ROOT = 'tests/fixtures/twin-eval';
const CORPUS = join(ROOT, 'corpus');
const TOP = 5;
const MRR_DEPTH = 10;
const VARIANTS = (process.env.BENCH_RETRIEVAL_VARIANTS ?? 'hash,model,hybrid')
  .split(',')
  .map((v) => v.trim());

interface Question {
  id: string;
  type: string;
  question: string;
  mustContain: string[];
  evidence: { file: string; quote: string }[];
}
interface Evidence {
  file: string;
  quote: string;
  start: number;
  end: number;
}

const allQuestions = JSON.parse(readFileSync(join(ROOT, 'questions.json'), 'utf8')) as Question[];
const questions = allQuestions.filter((q) => q.evidence.length > 0);
const unanswerable = allQuestions.filter((q) => q.evidence.length === 0);
const files = readdirSync(CORPUS).sort();
// each quote's char range in the text the ingest extracts (chunk offsets are into that text)
const extracted = new Map<string, string>();
for (const file of files) {
  const bytes = new Uint8Array(readFileSync(join(CORPUS, file)));
  extracted.set(file, (await extractText(bytes, file, { maxUncompressedBytes: 1 << 24 })).text);
}
const evidenceOf = new Map<string, Evidence[]>(
  questions.map((q) => [
    q.id,
    q.evidence.map(({ file, quote }) => {
      const start = extracted.get(file)?.indexOf(quote) ?? -1;
      if (start < 0) throw new Error(`${q.id}: quote not in the extracted text of ${file}: ${quote}`);
      return { file, quote, start, end: start + quote.length };
    }),
  ]),
);

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function baseEnv(embedder: string): Record<string, string | undefined> {
  const id = randomUUID().slice(0, 8);
  return {
    // the benchmark's own collections, apart from the tests' data; override with WEAVIATE_COLLECTION
    WEAVIATE_COLLECTION: 'BenchRetrieval',
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    QUEUE_PREFIX: `bret${id}`,
    EVENT_PREFIX: `bret${id}`,
    AUTH_SECRET: 'bench-auth-secret-0123456789',
    AUTH_ALLOW_ANONYMOUS: 'false',
    RATE_LIMIT_UPLOADS: '1000000000',
    RATE_LIMIT_SEARCH: '1000000000',
    // the L1 memory build an upload schedules is not what is measured: never before the bench ends
    MEMORY_DEBOUNCE_MS: '3600000',
    EMBEDDER: embedder,
  };
}

/** The first of `values` that the config accepts for EMBEDDER (names changed as embedders were added). */
function configFor(values: readonly string[]): Config | string {
  const errors: string[] = [];
  for (const value of values) {
    try {
      return parseConfig(baseEnv(value));
    } catch (error) {
      errors.push(`EMBEDDER=${value}: ${(error as Error).message.replace(/\s+/g, ' ')}`);
    }
  }
  return `no accepted EMBEDDER value (${errors.join('; ')})`;
}

interface Corpus {
  services: Services;
  userId: string;
  fileOf: Map<string, string>;
  ingestSeconds: number;
  chunks: number;
  close(): Promise<void>;
}

/** Uploads the corpus for a fresh user and waits until every document is processed. */
async function ingest(config: Config): Promise<Corpus> {
  const services = await createServices(config, pino({ level: 'silent' }), jobs);
  await migrateUp(services.orm);
  await services.embedder.ready();
  const workers = await startWorkers(services, jobs);
  const userId = `bench-retrieval-${randomUUID().slice(0, 8)}`;
  await services.users.ensure(userId);
  const fileOf = new Map<string, string>();
  const t0 = performance.now();
  for (const file of files) {
    const bytes = readFileSync(join(CORPUS, file));
    const doc = await services.documents.upload(userId, {
      filename: file,
      body: Readable.from([bytes]),
      size: bytes.length,
    });
    if (!('id' in doc)) throw new Error(`upload of ${file} refused: ${(doc as Error).message}`);
    fileOf.set(doc.id, file);
  }
  let chunks = 0;
  const deadline = Date.now() + 300_000;
  for (const [id, file] of fileOf) {
    for (;;) {
      const doc = await services.documents.get(userId, id);
      if (doc.status === 'processed') {
        chunks += doc.chunkCount;
        break;
      }
      if (doc.status === 'failed') throw new Error(`ingest of ${file} failed: ${doc.error}`);
      if (Date.now() > deadline) throw new Error(`ingest of ${file} still ${doc.status} after 300 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const ingestSeconds = round((performance.now() - t0) / 1000, 1);
  return {
    services,
    userId,
    fileOf,
    ingestSeconds,
    chunks,
    async close() {
      await workers.close(5000);
      await removeUsers(config, services.blobs, services.orm, [userId]).catch((error) =>
        console.error(`cleanup of ${userId}: ${(error as Error).message}`),
      );
      await services.close();
    },
  };
}

/** The embedder with each text's vector kept, so a sweep embeds every question once. */
function memoized(embedder: Embedder): Embedder {
  const cache = new Map<string, number[]>();
  return {
    get model() {
      return embedder.model;
    },
    get dimensions() {
      return embedder.dimensions;
    },
    kind: embedder.kind,
    ready: (signal) => embedder.ready(signal),
    async embed(texts, signal) {
      const missing = texts.filter((t) => !cache.has(t));
      if (missing.length) {
        const vectors = await embedder.embed(missing, signal);
        for (const [i, t] of missing.entries()) cache.set(t, vectors[i]!);
      }
      return texts.map((t) => cache.get(t)!);
    },
  };
}

// Exact lookups: each key fact (a name or a number of `mustContain`) found in one file of the corpus
// only, asked alone ("1:52:40", "Inês Pacheco"); a hit is a chunk whose text holds it. The
// paraphrased questions avoid the documents' words, so these show what the full-text side is for.
const corpusLower = files.map((f) => extracted.get(f)!.toLowerCase());
const lookups = [
  ...new Set(
    questions.flatMap((q) =>
      q.mustContain
        .filter((key) => key.length >= 4)
        .filter((key) => corpusLower.filter((text) => text.includes(key.toLowerCase())).length === 1),
    ),
  ),
].sort();

interface Probe {
  id: string;
  type: string;
  query: string;
  evidenceCount: number;
  /** Which of its evidence items the chunk holds. */
  holds(hit: RetrievalHit, text: string | null): boolean[];
}

/** The corpus file a hit's document was uploaded from (set per ingested corpus). */
let fileOfHit: (hit: RetrievalHit) => string | undefined = () => undefined;
const questionProbes: Probe[] = questions.map((q) => ({
  id: q.id,
  type: q.type,
  query: q.question,
  evidenceCount: q.evidence.length,
  holds: (hit, text) =>
    evidenceOf.get(q.id)!.map((e) => {
      if (fileOfHit(hit) !== e.file) return false;
      if (text?.includes(e.quote)) return true;
      const overlap = Math.min(hit.charEnd, e.end) - Math.max(hit.charStart, e.start);
      return overlap >= (e.end - e.start) / 2;
    }),
}));
const lookupProbes: Probe[] = lookups.map((key) => ({
  id: key,
  type: 'lookup',
  query: key,
  evidenceCount: 1,
  holds: (_hit, text) => [text?.toLowerCase().includes(key.toLowerCase()) ?? false],
}));

interface Summary {
  recallAt5: number;
  mrr: number;
  questions: number;
}
interface Scores extends Summary {
  /** Share of all evidence quotes (multi-hop questions have several) found in the top 5. */
  evidenceRecallAt5: number;
  byType: Record<string, Summary>;
  /** Questions with no evidence in the top 5. */
  missed: string[];
  /** Each question's rank of its first evidence chunk in the top 10 (null: not there). */
  ranks: Record<string, number | null>;
  /** Exact lookups of rare names and numbers (see above). */
  lookups: Summary & { missed: string[] };
  /** Search without the query's embedding (embedQueryP50Ms is reported apart). */
  searchP50Ms: number;
}

/** With `explain`, each missed question's top 5 goes to stderr (file#chunk, side, vector and lexical rank). */
async function score(
  corpus: Corpus,
  fusion: FusionWeights,
  candidates: number,
  embedder: Embedder,
  explain = false,
) {
  const { services, userId, fileOf } = corpus;
  fileOfHit = (hit) => fileOf.get(hit.documentId);
  const retrieval = new RetrievalService(
    {
      embedder,
      vectors: services.vectors,
      lexical: services.lexical,
      chunks: services.chunks,
      log: services.log,
    },
    { topK: MRR_DEPTH, minScore: -1, fusion, candidates },
  );
  const ms: number[] = [];
  const run = async (probes: Probe[]) => {
    const ranks: { p: Probe; rank: number | null; found: number; of: number }[] = [];
    for (const p of probes) {
      const t = performance.now();
      const hits = await retrieval.search(userId, p.query, MRR_DEPTH);
      ms.push(performance.now() - t);
      const texts = await Promise.all(hits.map((h) => retrieval.text(userId, h)));
      const held = hits.map((h, i) => p.holds(h, texts[i] ?? null));
      const first = held.findIndex((row) => row.some(Boolean));
      const of = p.evidenceCount;
      const found = Array.from({ length: of }, (_, e) => held.slice(0, TOP).some((row) => row[e])).filter(
        Boolean,
      ).length;
      ranks.push({ p, rank: first < 0 ? null : first + 1, found, of });
      if (explain && (first < 0 || first >= TOP))
        console.error(
          `missed ${p.id} (${p.query}): ${hits
            .slice(0, TOP)
            .map(
              (h) =>
                `${fileOf.get(h.documentId)}#${h.chunkIndex} ${h.matchedBy} v${h.vectorScore?.toFixed(2) ?? '-'}`,
            )
            .join(', ')}`,
        );
    }
    return ranks;
  };
  type Ranks = Awaited<ReturnType<typeof run>>;
  const summarize = (rs: Ranks): Summary => ({
    recallAt5: round(mean(rs.map((r) => (r.rank !== null && r.rank <= TOP ? 1 : 0)))),
    mrr: round(mean(rs.map((r) => (r.rank === null ? 0 : 1 / r.rank)))),
    questions: rs.length,
  });
  const missed = (rs: Ranks) => rs.filter((r) => r.rank === null || r.rank > TOP).map((r) => r.p.id);
  const ranks = await run(questionProbes);
  const lookupRanks = await run(lookupProbes);
  const types = [...new Set(questions.map((q) => q.type))];
  const scores: Scores = {
    ...summarize(ranks),
    evidenceRecallAt5: round(ranks.reduce((a, r) => a + r.found, 0) / ranks.reduce((a, r) => a + r.of, 0)),
    byType: Object.fromEntries(types.map((t) => [t, summarize(ranks.filter((r) => r.p.type === t))])),
    missed: missed(ranks),
    ranks: Object.fromEntries(ranks.map((r) => [r.p.id, r.rank])),
    lookups: { ...summarize(lookupRanks), missed: missed(lookupRanks) },
    searchP50Ms: round(percentile(ms, 50), 1),
  };
  return scores;
}

/** Embeds every probe once (the sweep reuses the vectors): the query embedding's own latency. */
async function warm(embedder: Embedder): Promise<number> {
  const ms: number[] = [];
  for (const p of [...questionProbes, ...lookupProbes]) {
    const t = performance.now();
    await embedder.embed([p.query]);
    ms.push(performance.now() - t);
  }
  return round(percentile(ms, 50), 1);
}

/**
 * The best cosine similarity the vector side finds for answerable and for unanswerable questions
 * (the corpus does not hold their answer): how far a similarity floor (CHAT_MIN_SCORE) can tell them apart.
 */
async function topVectorScores(corpus: Corpus, embedder: Embedder) {
  const { services, userId } = corpus;
  const top = async (qs: Question[]) => {
    const scores: number[] = [];
    for (const q of qs) {
      const [vector] = await embedder.embed([q.question]);
      const [hit] = await services.vectors.search(userId, vector!, {
        limit: 1,
        embeddingModel: embedder.model,
      });
      scores.push(hit?.score ?? 0);
    }
    return scores;
  };
  const answerable = await top(questions);
  const none = await top(unanswerable);
  return {
    answerableP10: round(percentile(answerable, 10)),
    answerableP50: round(percentile(answerable, 50)),
    unanswerableP50: round(percentile(none, 50)),
    unanswerableMax: round(Math.max(...none)),
  };
}

type Variant = Record<string, unknown> | { skipped: string };
const result: Record<string, unknown> = {
  corpus: { files: files.length, questions: questions.length, lookups: lookups.length, root: ROOT },
};
const skipped = (why: string): Variant => ({ skipped: why });

const wanted = (v: string) => VARIANTS.includes(v);
const vectorOnly = (config: Config): FusionWeights => ({ vector: 1, lexical: 0, k: config.SEARCH_RRF_K });
const configured = (config: Config): FusionWeights => ({
  vector: config.SEARCH_VECTOR_WEIGHT,
  lexical: config.SEARCH_LEXICAL_WEIGHT,
  k: config.SEARCH_RRF_K,
});
const brief = ({ recallAt5, mrr, questions: n, byType, missed, lookups: l }: Scores) => ({
  recallAt5,
  mrr,
  questions: n,
  byType,
  missed,
  lookups: l,
});

// ---- hash: the local hash embedder, vector side only ----
if (wanted('hash')) {
  const config = configFor(['local-hash', 'local']);
  if (typeof config === 'string') result.hash = skipped(config);
  else {
    const corpus = await ingest(config);
    try {
      const embedder = memoized(corpus.services.embedder);
      const embedQueryP50Ms = await warm(embedder);
      result.hash = {
        embeddingModel: embedder.model,
        chunks: corpus.chunks,
        ingestSeconds: corpus.ingestSeconds,
        embedQueryP50Ms,
        ...(await score(corpus, vectorOnly(config), config.SEARCH_CANDIDATES, embedder)),
        topVectorScore: await topVectorScores(corpus, embedder),
        // the fallback's hybrid, for a machine where the model cannot be installed
        hybridWithHash: brief(await score(corpus, configured(config), config.SEARCH_CANDIDATES, embedder)),
      };
    } finally {
      await corpus.close();
    }
  }
}

// ---- model and hybrid: the embedded semantic model, one ingest for both ----
if (wanted('model') || wanted('hybrid')) {
  const config = configFor(['local-model']);
  let corpus: Corpus | undefined;
  let why: string | undefined;
  if (typeof config === 'string') why = config;
  else {
    try {
      corpus = await ingest(config);
      if (/hash/i.test(corpus.services.embedder.model))
        why = `EMBEDDER=local-model gave ${corpus.services.embedder.model}: the model is not installed`;
    } catch (error) {
      why = `the semantic embedder did not start: ${(error as Error).message}`;
    }
  }
  try {
    if (why || !corpus || typeof config === 'string') {
      if (wanted('model')) result.model = skipped(why ?? 'no corpus');
      if (wanted('hybrid')) result.hybrid = skipped(why ?? 'no corpus');
    } else {
      const embedder = memoized(corpus.services.embedder);
      const common = {
        embeddingModel: embedder.model,
        chunks: corpus.chunks,
        ingestSeconds: corpus.ingestSeconds,
        embedQueryP50Ms: await warm(embedder),
      };
      if (wanted('model'))
        result.model = {
          ...common,
          ...(await score(corpus, vectorOnly(config), config.SEARCH_CANDIDATES, embedder)),
          topVectorScore: await topVectorScores(corpus, embedder),
        };
      if (wanted('hybrid')) {
        if (!corpus.services.lexical)
          result.hybrid = skipped('no lexical index in the container (services.lexical)');
        else {
          const fusion = configured(config);
          const scores = await score(
            corpus,
            fusion,
            config.SEARCH_CANDIDATES,
            embedder,
            process.env.BENCH_RETRIEVAL_EXPLAIN === '1',
          );
          // other weights on the same index: what the defaults are chosen from. Ranked by the
          // paraphrased questions' recall@5 plus the exact lookups' recall@5, then MRR.
          const sweep: Record<string, unknown>[] = [];
          if (process.env.BENCH_RETRIEVAL_SWEEP !== '0') {
            for (const lexical of [0, 0.25, 0.5, 0.75, 1, 2])
              for (const k of [5, 20, 60])
                for (const candidates of [20, 50]) {
                  if (lexical === 0 && (k !== 60 || candidates !== 20)) continue;
                  const s = await score(corpus, { vector: 1, lexical, k }, candidates, embedder);
                  sweep.push({
                    vector: 1,
                    lexical,
                    k,
                    candidates,
                    recallAt5: s.recallAt5,
                    mrr: s.mrr,
                    lookupRecallAt5: s.lookups.recallAt5,
                    lookupMrr: s.lookups.mrr,
                    missed: s.missed,
                  });
                }
            const rank = (x: Record<string, unknown>) =>
              (x.recallAt5 as number) +
              (x.lookupRecallAt5 as number) +
              0.01 * ((x.mrr as number) + (x.lookupMrr as number));
            sweep.sort((a, b) => rank(b) - rank(a));
          }
          result.hybrid = {
            ...common,
            fusion,
            candidates: config.SEARCH_CANDIDATES,
            ...scores,
            ...(sweep.length ? { sweep } : {}),
          };
        }
      }
    }
  } finally {
    await corpus?.close();
  }
}

const line = JSON.stringify(result);
writeFileSync('bench/results/retrieval.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(line);
process.exit(0);

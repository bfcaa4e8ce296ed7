// `npm run bench -- embed` (and `BENCH_EMBEDDER=local-model npm run bench -- ingest`, which calls
// measureEmbed): throughput of the embedded semantic default, all-MiniLM-L6-v2 through
// MiniLmEmbedder, on chunks of ~200 WordPiece tokens, in batches as ingest sends them; and its
// floor, the raw ONNX Runtime session on the same pre-tokenised batches (no tokenising, no copying
// out), which is what this CPU can do at all.
// BENCH_EMBED_CHUNKS (default 256), BENCH_EMBED_TOKENS (200), EMBEDDER_THREADS (0: one per core),
// EMBEDDER_PRECISION (int8|fp32), EMBEDDER_MODEL_DIR.
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import {
  localModelInstalled,
  MiniLmEmbedder,
  type MiniLmPrecision,
} from '../src/services/adapters/local/embedder.minilm.ts';
import { rngFor, WORDS, zipfRank } from './corpus.ts';

export interface EmbedBenchResult {
  model: string;
  threads: number;
  chunks: number;
  tokensPerChunk: number;
  embedChunksPerSec: number;
  floorEmbedChunksPerSec: number;
  ratioToFloor: number;
  /** Texts per session run in the adapter (int8: 1, to stay batch-invariant; fp32: up to 32). */
  rowsPerRun: number;
  /** Chunks per CPU-second of this process (× cores: what a quiet machine would give, at best). */
  embedChunksPerCpuSec: number;
  floorEmbedChunksPerCpuSec: number;
  floorBatch32ChunksPerSec: number;
}

const INGEST_BATCH = 128; // the pipeline's EMBED_BATCH

/** Chunks of `tokens` WordPiece tokens ([CLS]/[SEP] included), pseudo-words in sentences. */
function chunkTexts(tokenizer: Tokenizer, count: number, tokens: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const rng = rngFor(7, i);
    const words: string[] = [];
    let text = '';
    while (tokenizer.encode(text).ids.length < tokens) {
      const w = WORDS[zipfRank(rng())]!;
      words.push(words.length % 12 === 11 ? `${w}.` : w);
      text = words.join(' ');
    }
    out.push(text);
  }
  return out;
}

export async function measureEmbed(
  options: {
    dir?: string;
    threads?: number;
    precision?: MiniLmPrecision;
    chunks?: number;
    tokens?: number;
  } = {},
): Promise<EmbedBenchResult> {
  const dir =
    options.dir ??
    process.env.EMBEDDER_MODEL_DIR ??
    join(homedir(), '.cache/digital-twin/models/all-MiniLM-L6-v2');
  if (!localModelInstalled(dir))
    throw new Error(`no embedding model in ${dir}: run scripts/embedder-model.sh`);
  const threads = options.threads ?? Number(process.env.EMBEDDER_THREADS ?? 0);
  const precision = options.precision ?? ((process.env.EMBEDDER_PRECISION as MiniLmPrecision) || 'int8');
  const count = options.chunks ?? Number(process.env.BENCH_EMBED_CHUNKS ?? 256);
  const tokens = options.tokens ?? Number(process.env.BENCH_EMBED_TOKENS ?? 200);
  const embedder = new MiniLmEmbedder({ dir, threads, precision });
  await embedder.ready();
  const tokenizer = new Tokenizer(
    JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(join(dir, 'tokenizer.json'), 'utf8'))),
    {},
  );
  const texts = chunkTexts(tokenizer, count, tokens);
  await embedder.embed(texts.slice(0, 4)); // warm-up

  // CPU seconds as well as wall seconds: on a shared machine the wall clock measures the neighbours
  // (pool threads sleep rather than spin, so CPU time is the work done)
  const cpuSec = (since: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1e6;
  };
  let t0 = performance.now();
  let c0 = process.cpuUsage();
  for (let i = 0; i < texts.length; i += INGEST_BATCH) await embedder.embed(texts.slice(i, i + INGEST_BATCH));
  const embedSec = (performance.now() - t0) / 1000;
  const embedCpuSec = cpuSec(c0);

  // floor: one session, the same shape of runs, inputs already tokenised and padded
  const session = await ort.InferenceSession.create(
    join(dir, precision === 'int8' ? 'model.int8.onnx' : 'model.onnx'),
    {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: { 'session.intra_op.allow_spinning': '0' },
    },
  );
  const rows = embedder.runRows(tokens);
  const ids = new Int32Array(rows * tokens);
  for (let r = 0; r < rows; r++) ids.set(tokenizer.encode(texts[r]!).ids.slice(0, tokens), r * tokens);
  const feeds = {
    input_ids: new ort.Tensor('int32', ids, [rows, tokens]),
    attention_mask: new ort.Tensor('int32', new Int32Array(rows * tokens).fill(1), [rows, tokens]),
  };
  await session.run(feeds);
  t0 = performance.now();
  c0 = process.cpuUsage();
  for (let done = 0; done < count; done += rows) await session.run(feeds);
  const floorSec = (performance.now() - t0) / 1000;
  const floorCpuSec = cpuSec(c0);
  // and the same session at 32 texts a run (what int8 gives up to stay batch-invariant)
  const wide = 32;
  const wideIds = new Int32Array(wide * tokens);
  for (let r = 0; r < wide; r++) wideIds.set(ids.subarray(0, tokens), r * tokens);
  const wideFeeds = {
    input_ids: new ort.Tensor('int32', wideIds, [wide, tokens]),
    attention_mask: new ort.Tensor('int32', new Int32Array(wide * tokens).fill(1), [wide, tokens]),
  };
  await session.run(wideFeeds);
  t0 = performance.now();
  for (let done = 0; done < count; done += wide) await session.run(wideFeeds);
  const wideSec = (performance.now() - t0) / 1000;
  await session.release();

  const round = (x: number) => Math.round(x * 10) / 10;
  const embedChunksPerSec = round(count / embedSec);
  const floorEmbedChunksPerSec = round((Math.ceil(count / rows) * rows) / floorSec);
  return {
    model: embedder.model,
    threads,
    chunks: count,
    tokensPerChunk: tokens,
    embedChunksPerSec,
    floorEmbedChunksPerSec,
    ratioToFloor: Math.round((embedChunksPerSec / floorEmbedChunksPerSec) * 100) / 100,
    rowsPerRun: rows,
    embedChunksPerCpuSec: round(count / embedCpuSec),
    floorEmbedChunksPerCpuSec: round((Math.ceil(count / rows) * rows) / floorCpuSec),
    floorBatch32ChunksPerSec: round((Math.ceil(count / wide) * wide) / wideSec),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const result = await measureEmbed();
  writeFileSync('bench/results/embed.json', `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

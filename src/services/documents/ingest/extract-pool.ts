// Runs ingest's CPU-bound steps in worker threads so the process's event loop keeps answering
// queries (workers run inside the API process too) while a 300-page PDF parses or a zip bomb
// inflates. Each task has a time limit and each thread a heap limit: a hostile file kills only
// its own thread (piscina starts another) and its document fails with the reason.
import { Piscina } from 'piscina';
import type { Span } from './chunker.ts';
import { type Extracted, ExtractionError } from './extract.ts';
import type { ExtractResult, ExtractTask } from './extract.worker.ts';

export interface ExtractPoolOptions {
  maxThreads: number;
  timeoutMs: number;
  maxHeapMb: number;
  /** The threads' nice value (0–19), above the event loop's so requests are scheduled first. */
  nice?: number;
}

export interface ExtractPool {
  /** Text and sentence spans of a stored upload; throws ExtractionError for what no retry fixes. */
  extract(task: ExtractTask, signal?: AbortSignal): Promise<{ extracted: Extracted; spans: Span[] }>;
  close(): Promise<void>;
}

export function createExtractPool({
  maxThreads,
  timeoutMs,
  maxHeapMb,
  nice = 0,
}: ExtractPoolOptions): ExtractPool {
  let pool: Piscina | null = null;
  // started on first use: an API process with workers off never needs one
  const get = () =>
    (pool ??= new Piscina({
      filename: new URL('./extract.worker.ts', import.meta.url).href,
      minThreads: 0,
      maxThreads,
      idleTimeout: 30_000,
      workerData: { nice },
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb, maxYoungGenerationSizeMb: 64 },
    }));
  return {
    async extract(task, signal) {
      const timeout = AbortSignal.timeout(timeoutMs);
      const abort = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let result: ExtractResult;
      try {
        // a copy of its own is moved, not the caller's bytes (moving detaches them); a Buffer's
        // slice() is a view, often of Node's shared pool, which cannot be moved
        const bytes = new Uint8Array(task.bytes);
        result = await get().run({ ...task, bytes }, { signal: abort, transferList: [bytes.buffer] });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (timeout.aborted)
          throw new ExtractionError(`extraction took longer than ${Math.round(timeoutMs / 1000)} s (limit)`);
        const code = (error as { code?: string }).code;
        if (code === 'ERR_WORKER_OUT_OF_MEMORY')
          throw new ExtractionError(`extraction ran out of its ${maxHeapMb} MB memory limit`);
        throw error;
      }
      if (!result.ok) throw new ExtractionError(result.message);
      return { extracted: result.extracted, spans: result.spans };
    },
    close: async () => {
      await pool?.destroy();
    },
  };
}

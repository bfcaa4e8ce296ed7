// Runs the clustering maths in worker threads so the job worker's event loop keeps serving
// BullMQ (lock renewals, progress events) while a 100k-chunk build computes for tens of seconds.
// Piscina gives queueing, per-thread reuse and error propagation; inputs' buffers are moved, not
// copied: after `run` the typed arrays passed in are detached (empty), and for a subarray that is
// its whole underlying buffer, so pass copies of what the caller still needs.
import { Piscina } from 'piscina';
import { buffersOf, type TaskInput, type TaskName, type TaskOutput } from './tasks.ts';

export interface ComputePool {
  run<T extends TaskName>(task: T, input: TaskInput<T>): Promise<TaskOutput<T>>;
  close(): Promise<void>;
}

export function createComputePool({ maxThreads = 1 }: { maxThreads?: number } = {}): ComputePool {
  const pool = new Piscina({
    filename: new URL('./compute.worker.ts', import.meta.url).href,
    minThreads: 0,
    maxThreads,
    idleTimeout: 30_000,
  });
  return {
    run: (task, input) => pool.run({ task, input }, { transferList: buffersOf(input) }),
    close: () => pool.destroy(),
  };
}

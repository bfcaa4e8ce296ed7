import type { AnyJobDefinition, JobPayloads, QueueName } from '../../jobs/job.ts';

export interface EnqueueOptions {
  jobId?: string;
  delayMs?: number;
  /**
   * Debounce: a later job with the same key replaces a delayed one (its delay starts again), and
   * one added while the previous runs is kept and runs after it. One round trip.
   */
  debounceKey?: string;
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'unknown';

export interface JobInfo {
  id: string;
  name: string;
  state: JobState;
  attemptsMade: number;
  failedReason: string | null;
  returnValue: unknown;
}

// Port for background jobs: typed by the job definitions it was built with.
export interface JobQueue<D extends readonly AnyJobDefinition[] = readonly AnyJobDefinition[]> {
  enqueue<N extends keyof JobPayloads<D> & string>(
    name: N,
    payload: JobPayloads<D>[N],
    options?: EnqueueOptions,
  ): Promise<string>;
  get(queue: QueueName, jobId: string): Promise<JobInfo | null>;
  /** Removes a waiting job, or aborts a running one in whichever worker holds it. */
  cancel(queue: QueueName, jobId: string): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

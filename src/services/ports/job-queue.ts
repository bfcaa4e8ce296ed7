import { z } from 'zod';
import type { Logger } from '../../logger.ts';
import type { QueueDepth } from './metrics.ts';

// Port for background jobs. Producers (services) enqueue by name with the payloads below; the job
// files in src/jobs/ supply the handlers for the same names, and the worker refuses to start
// unless every name here has exactly one.

export const QUEUE_NAMES = ['ingest', 'memory', 'train', 'chat'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

const userMessage = z.object({
  id: z.string().min(1),
  role: z.literal('user'),
  content: z.string(),
  createTime: z.string(),
});

/** Every job: its queue and the schema of its payload, validated on enqueue and again on run. */
export const JOBS = {
  'ingest-document': {
    queue: 'ingest',
    payload: z.object({ userId: z.string().min(1), documentId: z.string().uuid() }),
  },
  'chat-reply': {
    queue: 'chat',
    payload: z.object({
      userId: z.string().min(1),
      sessionId: z.string().uuid(),
      messageId: z.string().min(1),
      userMessage,
    }),
  },
  'memory-update': {
    queue: 'memory',
    payload: z.object({
      userId: z.string().min(1),
      /** Recompute everything (clusters matched to the old ones so ids survive). */
      full: z.boolean().default(false),
      /** The version rebuildMemory announced; a debounced update names its own when it starts. */
      version: z.string().min(1).optional(),
      reason: z.enum(['ingest', 'delete', 'rebuild', 'perspective']),
    }),
  },
  'chat-memory': {
    queue: 'chat',
    payload: z.object({
      userId: z.string().min(1),
      sessionId: z.string().uuid(),
      reason: z.enum(['idle', 'ended']),
      exchanges: z.number().int().min(0),
    }),
  },
  // training (MEMORY-TRAINING.md C, D): L2 data, one POST /train per attempt, the watchdog round,
  // and the evaluation of a completed run
  'prepare-training': {
    queue: 'train',
    payload: z.object({ userId: z.string().min(1), runId: z.string().uuid() }),
  },
  'submit-training': {
    queue: 'train',
    payload: z.object({
      userId: z.string().min(1),
      runId: z.string().uuid(),
      attempt: z.number().int().min(1),
    }),
  },
  'train-watchdog': {
    queue: 'train',
    payload: z.object({ round: z.number().int().min(0) }),
  },
  'evaluate-model': {
    queue: 'train',
    payload: z.object({ userId: z.string().min(1), runId: z.string().uuid() }),
  },
} as const satisfies Record<string, { queue: QueueName; payload: z.ZodType }>;

export type JobName = keyof typeof JOBS;
/** Job name → what a producer passes, for the jobs of JOBS. */
export type JobPayloads = { [N in JobName]: z.input<(typeof JOBS)[N]['payload']> };

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

// Services enqueue through JobQueue (typed by JOBS); a queue built for other definitions (a
// test's) is typed by those.
export interface JobQueue<P extends object = JobPayloads> {
  enqueue<N extends keyof P & string>(name: N, payload: P[N], options?: EnqueueOptions): Promise<string>;
  get(queue: QueueName, jobId: string): Promise<JobInfo | null>;
  /** Removes a waiting job, or aborts a running one in whichever worker holds it. */
  cancel(queue: QueueName, jobId: string): Promise<boolean>;
  /** Jobs per state of every queue (the metrics scrape reads it). */
  depth(): Promise<Record<QueueName, QueueDepth>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What every run of a job gets from the worker, besides what the registry's context adds. */
export interface JobRun {
  jobId: string;
  /** 1-based attempt number of this run. */
  attempt: number;
  maxAttempts: number;
  /**
   * Aborted when the job is cancelled (reason: JobCancelledError) or its worker shuts down and the
   * grace has passed (reason: WorkerShutdownError; the job is then handed back, not failed).
   */
  signal: AbortSignal;
  log: Logger;
}

/** A handler for one job; `Ctx` is what the composition root hands every run. */
export interface JobDefinition<
  Name extends string = string,
  Payload extends z.ZodType = z.ZodType,
  Ctx extends JobRun = JobRun,
> {
  name: Name;
  queue: QueueName;
  payload: Payload;
  /** Overrides JOB_ATTEMPTS for this job only. */
  attempts?: number;
  backoffMs?: number;
  /** A stable id for a payload, so a duplicate enqueue is dropped while the first is pending. */
  jobId?(payload: z.output<Payload>): string;
  handle(payload: z.output<Payload>, ctx: Ctx): Promise<unknown>;
  /** Runs once, when the last attempt failed (or the error was permanent): record and announce it. */
  onFinalFailure?(payload: z.output<Payload>, error: Error, ctx: Ctx): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds handlers of every payload and context
export type AnyJobDefinition = JobDefinition<string, z.ZodType, any>;

/** Job name → the payload its producer passes, for a list of definitions. */
export type PayloadsOf<D extends readonly AnyJobDefinition[]> = {
  [J in D[number] as J['name']]: z.input<J['payload']>;
};

/** Thrown by a handler for failures that no retry can fix (a corrupt file): fails at once. */
export class PermanentJobError extends Error {
  readonly permanent = true;
}

export class JobCancelledError extends Error {
  constructor() {
    super('job cancelled');
  }
}

/**
 * The abort reason of a run whose worker is shutting down (a deploy): the job goes back to the
 * queue for another worker, keeping its attempt; it is not a failure.
 */
export class WorkerShutdownError extends Error {
  constructor() {
    super('the worker is shutting down');
  }
}

/**
 * The worker refuses to start on a registry with duplicate or incomplete entries, or (given
 * `declared`) one that leaves a declared job without its handler or on another queue.
 */
export function validateRegistry(
  definitions: readonly AnyJobDefinition[],
  declared: Record<string, { queue: QueueName }> = {},
): void {
  const seen = new Set<string>();
  for (const d of definitions) {
    if (!d.name || /:/.test(d.name))
      throw new Error(`job name ${JSON.stringify(d.name)} is empty or contains ':'`);
    if (seen.has(d.name)) throw new Error(`job ${d.name} is registered twice`);
    if (typeof d.handle !== 'function') throw new Error(`job ${d.name} has no handler`);
    if (!(QUEUE_NAMES as readonly string[]).includes(d.queue))
      throw new Error(`job ${d.name}: unknown queue ${d.queue}`);
    const expected = declared[d.name]?.queue;
    if (expected && expected !== d.queue)
      throw new Error(`job ${d.name}: queue ${d.queue} is not ${expected}`);
    seen.add(d.name);
  }
  const missing = Object.keys(declared).filter((name) => !seen.has(name));
  if (missing.length) throw new Error(`no handler registered for ${missing.join(', ')}`);
}

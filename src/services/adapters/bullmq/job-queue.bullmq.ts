import { type Job, Queue, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../../../logger.ts';
import {
  type AnyJobDefinition,
  type EnqueueOptions,
  JobCancelledError,
  type JobInfo,
  type JobQueue,
  type JobRun,
  type JobState,
  type PayloadsOf,
  PermanentJobError,
  QUEUE_NAMES,
  type QueueName,
  validateRegistry,
  WorkerShutdownError,
} from '../../ports/job-queue.ts';
import type { JobOutcome, QueueDepth } from '../../ports/metrics.ts';

export interface BullOptions {
  redisUrl: string;
  prefix: string;
  attempts: number;
  backoffMs: number;
  /** Connection errors (Redis down): ioredis reconnects by itself, the caller only logs. */
  onError?: (error: Error) => void;
}

function connection(options: BullOptions) {
  // BullMQ needs maxRetriesPerRequest: null on blocking connections
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: false });
  redis.on('error', options.onError ?? (() => {}));
  return redis;
}

const cancelChannel = (prefix: string) => `${prefix}:jobs:cancel`;

export class BullJobQueue<D extends readonly AnyJobDefinition[]> implements JobQueue<PayloadsOf<D>> {
  private readonly redis: Redis;
  private readonly queues = new Map<QueueName, Queue>();
  private readonly byName: Map<string, AnyJobDefinition>;

  private readonly options: BullOptions;

  constructor(definitions: D, options: BullOptions) {
    this.options = options;
    this.redis = connection(options);
    this.byName = new Map(definitions.map((d) => [d.name, d]));
  }

  private queue(name: QueueName): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.options.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async enqueue<N extends keyof PayloadsOf<D> & string>(
    name: N,
    payload: PayloadsOf<D>[N],
    options: EnqueueOptions = {},
  ): Promise<string> {
    const def = this.byName.get(name);
    if (!def) throw new Error(`unknown job ${name}`);
    const data = def.payload.parse(payload);
    const jobId = options.jobId ?? def.jobId?.(data);
    if (jobId?.includes(':')) throw new Error(`job id must not contain ':' (${jobId})`);
    const job = await this.queue(def.queue).add(name, data, {
      attempts: def.attempts ?? this.options.attempts,
      backoff: { type: 'exponential', delay: def.backoffMs ?? this.options.backoffMs },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
      ...(jobId ? { jobId } : {}),
      ...(options.delayMs ? { delay: options.delayMs } : {}),
      ...(options.debounceKey
        ? { deduplication: { id: options.debounceKey, replace: true, keepLastIfActive: true } }
        : {}),
    });
    return job.id!;
  }

  async get(queue: QueueName, jobId: string): Promise<JobInfo | null> {
    // State first, then the job's data: BullMQ finishes a job (state + attempts + reason) in one
    // script, so a final state read first guarantees the data read after it is final too.
    const state = await this.queue(queue).getJobState(jobId);
    const job = await this.queue(queue).getJob(jobId);
    if (!job) return null;
    return {
      id: job.id!,
      name: job.name,
      state: state as JobState,
      attemptsMade: job.attemptsMade,
      failedReason: job.failedReason ?? null,
      returnValue: job.returnvalue ?? null,
    };
  }

  async cancel(queue: QueueName, jobId: string): Promise<boolean> {
    const job = await this.queue(queue).getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    if (
      state === 'waiting' ||
      state === 'delayed' ||
      state === 'prioritized' ||
      state === 'waiting-children'
    ) {
      await job.remove();
      return true;
    }
    if (state === 'active') {
      // the worker holding it may be another process: tell all of them
      await this.redis.publish(cancelChannel(this.options.prefix), JSON.stringify({ queue, jobId }));
      return true;
    }
    return false;
  }

  async depth(): Promise<Record<QueueName, QueueDepth>> {
    const counts = await Promise.all(
      QUEUE_NAMES.map((name) => this.queue(name).getJobCounts('waiting', 'active', 'delayed', 'failed')),
    );
    return Object.fromEntries(
      QUEUE_NAMES.map((name, i) => {
        const c = counts[i]!;
        return [
          name,
          { waiting: c.waiting ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0 },
        ];
      }),
    ) as Record<QueueName, QueueDepth>;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    this.redis.disconnect();
  }
}

export interface WorkerPoolOptions extends BullOptions {
  concurrency: number;
  /** Per-queue overrides: chat replies wait on the network, not the CPU, and need many slots. */
  concurrencyByQueue?: Partial<Record<QueueName, number>>;
  queues?: readonly QueueName[];
  /** How long a worker holds a job without renewing its lock; a crashed worker's jobs return after it. */
  lockDurationMs?: number;
  /** How often workers look for jobs whose worker died (stalled jobs). */
  stalledIntervalMs?: number;
  log: Logger;
  /** What every run gets besides its JobRun (the process's services). */
  context: object;
  /** Jobs that must have a handler here, with their queues (the ports' JOBS). */
  declared?: Record<string, { queue: QueueName }>;
  /**
   * How each attempt ended (a shutdown's hand-back is none of these) and how long its handler ran
   * (none for a job that stalled out): the metrics count them.
   */
  onOutcome?: (queue: QueueName, jobName: string, outcome: JobOutcome, seconds?: number) => void;
}

export interface WorkerPool {
  close(timeoutMs?: number): Promise<void>;
}

/** Starts one BullMQ worker per queue that has jobs, dispatching by job name to its definition. */
export async function startWorkerPool(
  definitions: readonly AnyJobDefinition[],
  options: WorkerPoolOptions,
): Promise<WorkerPool> {
  validateRegistry(definitions, options.declared);
  const byName = new Map(definitions.map((d) => [d.name, d]));
  const queues = [...new Set(definitions.map((d) => d.queue))].filter(
    (q) => !options.queues || options.queues.includes(q),
  );
  const workers: Worker[] = [];
  // the runs of this process, by queue and job id: a cancel or a shutdown aborts them with its reason
  const running = new Map<string, AbortController>();
  const runKey = (queue: string, jobId: string) => `${queue}/${jobId}`;

  const process = async (job: Job, token?: string) => {
    const def = byName.get(job.name);
    if (!def) throw new UnrecoverableError(`no handler for job ${job.name}`);
    const maxAttempts = job.opts.attempts ?? 1;
    const controller = new AbortController();
    const key = runKey(job.queueName, job.id!);
    const ctx: JobRun = {
      ...options.context,
      jobId: job.id!,
      attempt: job.attemptsMade + 1,
      maxAttempts,
      signal: controller.signal,
      log: options.log.child({ job: job.name, jobId: job.id, attempt: job.attemptsMade + 1 }),
    };
    const payload = def.payload.safeParse(job.data);
    if (!payload.success) {
      throw new UnrecoverableError(`invalid payload for ${job.name}: ${payload.error.message}`);
    }
    running.set(key, controller);
    const started = performance.now();
    const outcome = (o: JobOutcome) =>
      options.onOutcome?.(def.queue, def.name, o, (performance.now() - started) / 1000);
    try {
      const result = await def.handle(payload.data, ctx);
      outcome('completed');
      return result;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      const permanent = error instanceof PermanentJobError || error instanceof UnrecoverableError;
      if (reason instanceof WorkerShutdownError && !permanent) {
        await handBack(job, token, ctx);
        throw new WaitingError();
      }
      const cancelled = reason instanceof JobCancelledError || error instanceof JobCancelledError;
      const final = cancelled || permanent || ctx.attempt >= maxAttempts;
      if (final) {
        try {
          await def.onFinalFailure?.(payload.data, cancelled ? new JobCancelledError() : error, ctx);
        } catch (reportError) {
          ctx.log.error({ err: reportError }, 'failed to report the final failure');
        }
      }
      ctx.log.warn({ err: error, final }, 'job attempt failed');
      outcome(final ? 'failed' : 'retried');
      if (final && !(error instanceof UnrecoverableError)) throw new UnrecoverableError(error.message);
      throw error;
    } finally {
      running.delete(key);
    }
  };

  const reportStalledOut = async (job: Job, err: Error) => {
    const def = byName.get(job.name);
    const payload = def?.payload.safeParse(job.data);
    if (!def || !payload?.success) return;
    const ctx: JobRun = {
      ...options.context,
      jobId: job.id!,
      attempt: job.attemptsMade || 1,
      maxAttempts: job.opts.attempts ?? 1,
      signal: AbortSignal.abort(),
      log: options.log.child({ job: job.name, jobId: job.id }),
    };
    const error = new Error(`the job's worker stopped while running it too many times (${err.message})`);
    try {
      await def.onFinalFailure?.(payload.data, error, ctx);
    } catch (reportError) {
      ctx.log.error({ err: reportError }, 'failed to report the final failure');
    }
    ctx.log.warn({ err: error, final: true }, 'job failed: stalled too often');
    options.onOutcome?.(def.queue, def.name, 'failed');
  };

  for (const name of queues) {
    const worker = new Worker(name, process, {
      connection: connection(options),
      prefix: options.prefix,
      concurrency: options.concurrencyByQueue?.[name] ?? options.concurrency,
      ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
      autorun: true,
    });
    worker.on('error', (err) => options.log.error({ err, queue: name }, 'worker error'));
    // A job whose workers died under it too often (BullMQ's stall limit) is failed by BullMQ
    // itself, without calling `process`: its final failure is reported here, or it would be
    // left looking like it still runs (a memory build stuck at BUILDING).
    worker.on('failed', (job, err) => {
      if (!job?.deferredFailure) return;
      void reportStalledOut(job, err);
    });
    workers.push(worker);
  }

  const subscriber = connection(options);
  await subscriber.subscribe(cancelChannel(options.prefix));
  subscriber.on('message', (_channel, message) => {
    const { queue, jobId } = JSON.parse(message) as { queue: string; jobId: string };
    running.get(runKey(queue, jobId))?.abort(new JobCancelledError());
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  return {
    async close(timeoutMs = 10_000) {
      // no new jobs; the running ones get the grace to finish (cancels still reach them), then
      // they are aborted as a shutdown and handed back to the queue
      const closing = Promise.all(workers.map((w) => w.close()));
      const timer = setTimeout(() => {
        for (const controller of running.values()) controller.abort(new WorkerShutdownError());
      }, timeoutMs);
      try {
        await closing;
      } finally {
        clearTimeout(timer);
        subscriber.disconnect();
      }
    },
  };
}

/**
 * Back to the front of the wait list with its lock token, attemptsMade unchanged: the next worker
 * runs the same attempt again. Should that fail, the lock lapses and stall recovery hands it back.
 */
async function handBack(job: Job, token: string | undefined, ctx: JobRun): Promise<void> {
  try {
    await job.moveToWait(token);
    ctx.log.info('worker shutting down: job handed back to the queue');
  } catch (error) {
    ctx.log.warn({ err: error }, 'could not hand the job back; it returns when its lock expires');
  }
}

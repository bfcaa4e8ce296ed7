import type { Services } from './container.ts';
import { startWorkerPool, type WorkerPool } from './services/adapters/bullmq/job-queue.bullmq.ts';
import { type AnyJobDefinition, JOBS } from './services/ports/job-queue.ts';

/** Starts the BullMQ workers for every registered job, sharing the process's services. */
export function startWorkers(services: Services, jobs: readonly AnyJobDefinition[]): Promise<WorkerPool> {
  const { config } = services;
  return startWorkerPool(jobs, {
    declared: JOBS,
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
    onError: (err) => services.log.warn({ err: err.message }, 'worker redis connection error'),
    concurrency: config.WORKER_CONCURRENCY,
    lockDurationMs: config.JOB_LOCK_MS,
    stalledIntervalMs: config.JOB_STALLED_INTERVAL_MS,
    concurrencyByQueue: { chat: config.CHAT_CONCURRENCY },
    log: services.log.child({ component: 'worker' }),
    onOutcome: (queue, name, outcome, seconds) => services.metrics.jobOutcome(queue, name, outcome, seconds),
    context: { services },
  });
}

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServices, type Services } from '../src/container.ts';
import { defineJob, PermanentJobError, validateRegistry } from '../src/jobs/job.ts';
import { jobs } from '../src/jobs/registry.ts';
import {
  BullJobQueue,
  startWorkerPool,
  type WorkerPool,
} from '../src/services/adapters/bullmq/job-queue.bullmq.ts';
import { testConfig } from './helpers/harness.ts';

const config = testConfig({ JOB_BACKOFF_MS: '20' });
const attemptsSeen = new Map<string, number[]>();
const finalFailures: { key: string; message: string; attempt: number }[] = [];

const flaky = defineJob({
  name: 'test-flaky',
  queue: 'ingest',
  payload: z.object({ key: z.string(), failTimes: z.number().int() }),
  async handle(payload, ctx) {
    attemptsSeen.set(payload.key, [...(attemptsSeen.get(payload.key) ?? []), ctx.attempt]);
    if (ctx.attempt <= payload.failTimes) throw new Error(`boom on attempt ${ctx.attempt}`);
    return { ok: payload.key };
  },
  async onFinalFailure(payload, error, ctx) {
    finalFailures.push({ key: payload.key, message: error.message, attempt: ctx.attempt });
  },
});

const permanent = defineJob({
  name: 'test-permanent',
  queue: 'ingest',
  payload: z.object({ key: z.string() }),
  async handle(payload, ctx) {
    attemptsSeen.set(payload.key, [...(attemptsSeen.get(payload.key) ?? []), ctx.attempt]);
    throw new PermanentJobError('file is corrupt');
  },
  async onFinalFailure(payload, error, ctx) {
    finalFailures.push({ key: payload.key, message: error.message, attempt: ctx.attempt });
  },
});

const definitions = [flaky, permanent] as const;
let services: Services;
let queue: BullJobQueue<typeof definitions>;
let pool: WorkerPool;

beforeAll(async () => {
  services = await createServices(config, pino({ level: 'silent' }), jobs);
  queue = new BullJobQueue(definitions, {
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    attempts: 3,
    backoffMs: 20,
  });
  pool = await startWorkerPool(definitions, {
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    attempts: 3,
    backoffMs: 20,
    concurrency: 2,
    log: pino({ level: 'silent' }),
    context: { services },
  });
});

afterAll(async () => {
  await pool?.close(2000);
  await queue?.close();
  await services?.close();
});

async function settle(id: string) {
  for (let i = 0; i < 200; i++) {
    const info = await queue.get('ingest', id);
    if (info && (info.state === 'completed' || info.state === 'failed')) return info;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not settle`);
}

describe('jobs on a real worker and real Redis', () => {
  it('a job that fails twice succeeds on the third attempt', async () => {
    const id = await queue.enqueue('test-flaky', { key: 'twice', failTimes: 2 });
    const info = await settle(id);
    expect(info.state).toBe('completed');
    expect(info.returnValue).toEqual({ ok: 'twice' });
    expect(attemptsSeen.get('twice')).toEqual([1, 2, 3]);
    expect(finalFailures.find((f) => f.key === 'twice')).toBeUndefined();
  });

  it('a job that fails three times ends failed, with its error recorded and reported once', async () => {
    const id = await queue.enqueue('test-flaky', { key: 'always', failTimes: 99 });
    const info = await settle(id);
    expect(info.state).toBe('failed');
    expect(info.failedReason).toBe('boom on attempt 3');
    expect(attemptsSeen.get('always')).toEqual([1, 2, 3]);
    expect(finalFailures.filter((f) => f.key === 'always')).toEqual([
      { key: 'always', message: 'boom on attempt 3', attempt: 3 },
    ]);
  });

  it('a permanent failure is not retried', async () => {
    const id = await queue.enqueue('test-permanent', { key: 'corrupt' });
    const info = await settle(id);
    expect(info.state).toBe('failed');
    expect(attemptsSeen.get('corrupt')).toEqual([1]);
    expect(finalFailures.find((f) => f.key === 'corrupt')?.message).toBe('file is corrupt');
  });

  it('a duplicate enqueue with the same job id is one job', async () => {
    const a = await queue.enqueue('test-flaky', { key: 'dedupe', failTimes: 0 }, { jobId: 'dedupe-1' });
    const b = await queue.enqueue('test-flaky', { key: 'dedupe', failTimes: 0 }, { jobId: 'dedupe-1' });
    expect(a).toBe(b);
    await settle(a);
    expect(attemptsSeen.get('dedupe')).toEqual([1]);
  });

  it('rejects an invalid payload before it reaches Redis', async () => {
    await expect(queue.enqueue('test-flaky', { key: 1 } as never)).rejects.toThrow();
  });

  it('the worker refuses a registry with a duplicate or incomplete job', () => {
    expect(() => validateRegistry([flaky, flaky])).toThrow(/registered twice/);
    expect(() => validateRegistry([{ ...flaky, name: 'x', handle: undefined as never }])).toThrow(
      /no handler/,
    );
  });
});

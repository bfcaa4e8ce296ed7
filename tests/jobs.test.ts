import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createServices, type Services } from '../src/container.ts';
import { defineJob, PermanentJobError, validateRegistry } from '../src/jobs/job.ts';
import { jobs } from '../src/jobs/registry.ts';
import {
  ChatSessionDocument,
  IngestProgressDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import {
  BullJobQueue,
  startWorkerPool,
  type WorkerPool,
} from '../src/services/adapters/bullmq/job-queue.bullmq.ts';
import { startWorkers } from '../src/worker-runtime.ts';
import { events, isTerminal, sendMessage, startChat } from './helpers/chat.ts';
import { startTestApp, testConfig } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { startOpenAIStandin } from './helpers/openai-standin.ts';

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

describe('JOB_ATTEMPTS', () => {
  it('decides how often an ingest that always fails is tried before its failure is recorded', async () => {
    const app = await startTestApp({ env: { JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '20' } });
    let pool: WorkerPool | undefined;
    try {
      const client = app.client();
      const progress = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
      const doc = await uploadDocument(client, 'gone.txt', 'The heron nests by the quarry pond.');
      // the upload's object vanishes before a worker gets to it: every attempt fails, none permanently
      await app.services.blobs.deletePrefix(client.userId, `raw/${doc.id}/`);
      pool = await startWorkers(app.services, jobs);
      const done = await settled(client, doc.id);
      expect(done.status).toBe('FAILED');
      expect(done.error).toBeTruthy();
      const seen = (
        await progress.until(
          (e) => e.data?.ingestProgress.documentId === doc.id && e.data.ingestProgress.stage === 'FAILED',
        )
      ).map((e) => e.data!.ingestProgress);
      progress.close();
      expect([...new Set(seen.filter((e) => e.stage === 'EXTRACTING').map((e) => e.attempt))]).toEqual([
        1, 2,
      ]);
      expect(seen.filter((e) => e.stage === 'FAILED')).toMatchObject([{ attempt: 2, error: done.error }]);
      const { ingestJobId } = await app.services.documents.get(client.userId, doc.id);
      expect(await app.services.queue.get('ingest', ingestJobId!)).toMatchObject({
        state: 'failed',
        attemptsMade: 2,
      });
    } finally {
      await pool?.close(2000);
      await app.close();
    }
  });

  it('decides how often a chat reply is tried against a model that is down', async () => {
    const model = await startOpenAIStandin({ failStatus: 503 });
    const app = await startTestApp({
      withWorkers: true,
      env: { JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '20', CHAT_BASE_URL: model.url },
    });
    try {
      const client = app.client();
      const sessionId = await startChat(client);
      const sent = await sendMessage(client, sessionId, 'Are you there?');
      const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
      const list = events(await sub.until(isTerminal, 15_000));
      sub.close();
      expect(list.at(-1)).toMatchObject({ __typename: 'ReplyFailed' });
      await vi.waitFor(
        async () =>
          expect(await app.services.queue.get('chat', sent.assistantMessageId)).toMatchObject({
            state: 'failed',
            attemptsMade: 2,
          }),
        { timeout: 5000, interval: 50 },
      );
      expect(model.requests).toHaveLength(2);
      const stored = (await client.request(ChatSessionDocument, { id: sessionId })).data!.chatSession;
      if (stored.__typename !== 'ChatSession') throw new Error(stored.__typename);
      expect(stored.messages.map((m) => [m.role, m.status])).toEqual([
        ['USER', null],
        ['ASSISTANT', 'FAILED'],
      ]);
    } finally {
      await app.close();
      await model.close();
    }
  });
});

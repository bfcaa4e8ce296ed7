import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatSessionDocument,
  IngestProgressDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { events, isTerminal, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { childEnv, startTestApp, type TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';
import { expectPackedChunks } from './helpers/packed-chunks.ts';

// A deploy: the worker process gets SIGTERM while it runs a job. The job must finish within the
// shutdown grace or go back to the queue for the next worker (DESIGN §6), never end as failed.
let app: TestApp;
let model: OpenAIStandin;
const workers: ChildProcess[] = [];
beforeAll(async () => {
  model = await startOpenAIStandin();
  app = await startTestApp({ withWorkers: false, env: { CHAT_BASE_URL: model.url } });
});
// a test that failed half-way must not leave its worker taking the next test's jobs
afterEach(() => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
});
afterAll(async () => {
  if (app) await removeUsers(app.config, app.services.blobs, app.services.orm, users);
  await app?.close();
  await model?.close();
});

// Users outside the harness's `u-` names: the suite's teardown removes every `u-` user created
// since its start, which on a shared machine includes those of a run still going. These go here.
const users: string[] = [];
function newClient() {
  const userId = `shutdown-${randomUUID()}`;
  users.push(userId);
  return app.client(userId);
}

interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once the process says its workers run. */
  ready: Promise<void>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

function startWorker(shutdownGraceMs: number): WorkerProcess {
  const child = spawn(process.execPath, ['src/worker.ts'], {
    env: childEnv(app.config, {
      LOG_LEVEL: 'info',
      CHAT_BASE_URL: model.url,
      WORKER_CONCURRENCY: '2',
      SHUTDOWN_TIMEOUT_MS: String(shutdownGraceMs),
      JOB_LOCK_MS: '3000',
      JOB_STALLED_INTERVAL_MS: '1000',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const ready = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes('workers running')) resolve();
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${out}`)));
  });
  ready.catch(() => {});
  return {
    child,
    output: () => out,
    ready,
    async stop() {
      // a process still starting has no SIGTERM handler yet
      await ready;
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

const until = async (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('a worker shut down mid-job', () => {
  it('hands back a document still ingesting after the grace; the next worker processes it once', async () => {
    const client = newClient();
    const progress = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    const text = Array.from(
      { length: 4000 },
      (_, i) =>
        `Record ${i} tells of the ${['falcon', 'cedar', 'basalt', 'lagoon', 'ember'][i % 5]} survey number ${i * 13}.`,
    ).join(' ');
    const first = startWorker(100);
    const doc = await uploadDocument(client, 'deploy.txt', text);
    await progress.until(
      (e) =>
        e.data?.ingestProgress.documentId === doc.id &&
        ['CHUNKING', 'EMBEDDING', 'INDEXING'].includes(e.data.ingestProgress.stage),
      120_000,
    );
    expect(await first.stop(), first.output()).toBe(0);

    // between the two workers: back in the queue, its attempt unspent, the row not failed
    const { ingestJobId } = await app.services.documents.get(client.userId, doc.id);
    expect(await app.services.queue.get('ingest', ingestJobId!)).toMatchObject({
      state: 'waiting',
      attemptsMade: 0,
    });
    expect((await app.services.documents.get(client.userId, doc.id)).status).toBe('processing');

    const second = startWorker(100);
    const done = await settled(client, doc.id, 100_000);
    const seen = (
      await progress.until(
        (e) => e.data?.ingestProgress.documentId === doc.id && e.data.ingestProgress.stage === 'DONE',
      )
    ).map((e) => e.data!.ingestProgress);
    progress.close();
    expect(done.status).toBe('PROCESSED');
    expect(done.error).toBeNull();
    expect(done.chunkCount).toBeGreaterThan(50);
    expect(seen.filter((e) => e.stage === 'FAILED')).toEqual([]);
    expect(new Set(seen.map((e) => e.attempt))).toEqual(new Set([1]));
    await expectPackedChunks(app.services, client.userId, doc.id, done.chunkCount);
    expect(await app.services.vectors.countByDocument(client.userId, doc.id)).toBe(done.chunkCount);
    expect(await second.stop(), second.output()).toBe(0);
  }, 240_000);

  it('hands back a reply still waiting for its first token after the grace; the next worker answers it once', async () => {
    const tokens = ['The', ' quarry', ' pond', ' has', ' herons', '.'];
    model.script = { tokens, ttftMs: 5000 };
    const client = newClient();
    const sessionId = await startChat(client);
    const first = startWorker(100);
    const sent = await sendMessage(client, sessionId, 'Where do the herons nest?');
    const before = model.requests.length;
    await until(() => model.requests.length > before, 'the model request');
    expect(await first.stop(), first.output()).toBe(0);
    expect(await app.services.queue.get('chat', sent.assistantMessageId)).toMatchObject({
      state: 'waiting',
      attemptsMade: 0,
    });
    await until(() => model.requests.at(-1)!.aborted, 'the first request to be dropped');

    model.script = { tokens };
    const second = startWorker(100);
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const list = events(await sub.until(isTerminal, 30_000));
    sub.close();
    // deltas are coalesced (REPLY_DELTA_WINDOW_MS): each starts at the token index of its first token
    const deltas = tokensOf(list);
    expect(deltas.map((t) => t.text).join('')).toBe(tokens.join(''));
    expect(deltas[0]!.index).toBe(0);
    for (const delta of deltas) expect(tokens.slice(delta.index).join('').startsWith(delta.text)).toBe(true);
    expect(list.filter((e) => e.__typename === 'ReplyDone' || e.__typename === 'ReplyFailed')).toMatchObject([
      { __typename: 'ReplyDone', finishReason: 'stop' },
    ]);
    await expectOneExchange(sessionId, client, tokens.join(''));
    expect(await second.stop(), second.output()).toBe(0);
  }, 120_000);

  it('lets a reply that is streaming finish within the grace, and the next worker does not repeat it', async () => {
    const tokens = Array.from({ length: 30 }, (_, i) => ` word${i}`);
    model.script = { tokens, interTokenMs: 60 };
    const client = newClient();
    const sessionId = await startChat(client);
    const first = startWorker(10_000);
    await first.ready;
    const sent = await sendMessage(client, sessionId, 'Tell me a long story.');
    const before = model.requests.length;
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    await sub.until((r) => r.data?.twinReply.__typename === 'ReplyToken', 30_000);
    const streamedBeforeSigterm = tokensOf(events([...sub.received])).length;
    expect(await first.stop(), first.output()).toBe(0);
    expect(streamedBeforeSigterm).toBeLessThan(tokens.length);
    const second = startWorker(10_000);
    await second.ready;
    await sub.until(isTerminal, 30_000);
    sub.close();
    const all = events(sub.received);
    // one copy of every token, in order, however the window grouped them
    expect(
      tokensOf(all)
        .map((t) => t.text)
        .join(''),
    ).toBe(tokens.join(''));
    expect(all.filter((e) => e.__typename === 'ReplyDone' || e.__typename === 'ReplyFailed')).toMatchObject([
      { __typename: 'ReplyDone', finishReason: 'stop' },
    ]);
    await expectOneExchange(sessionId, client, tokens.join(''));
    expect(model.requests.length - before).toBe(1);
    expect(await app.services.queue.get('chat', sent.assistantMessageId)).toMatchObject({
      state: 'completed',
    });
    expect(await second.stop(), second.output()).toBe(0);
  }, 120_000);
});

async function expectOneExchange(sessionId: string, client: ReturnType<TestApp['client']>, reply: string) {
  const stored = (await client.request(ChatSessionDocument, { id: sessionId })).data!.chatSession;
  if (stored.__typename !== 'ChatSession') throw new Error(stored.__typename);
  expect(stored.messages.map((m) => [m.role, m.status, m.role === 'ASSISTANT' ? m.content : ''])).toEqual([
    ['USER', null, ''],
    ['ASSISTANT', 'COMPLETE', reply],
  ]);
}

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatSessionDocument,
  IngestProgressDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { events, isTerminal, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import { createTestClient, type TestClient } from './helpers/client.ts';
import { childEnv, TEST_AUTH_SECRET, testConfig } from './helpers/harness.ts';
import { getDocument, settled, uploadDocument } from './helpers/ingest.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

// Issue 14, "More than one machine's worth": two API processes (workers off) and two worker
// processes (src/worker.ts) on the same PostgreSQL, Redis, S3 and Weaviate, as behind a load
// balancer. Events cross processes through Redis and each job runs on exactly one worker.

const config = testConfig();
const children: ChildProcess[] = [];
const TOKENS = Array.from({ length: 40 }, (_, i) => ` word${i}`);
let env: NodeJS.ProcessEnv;
let model: OpenAIStandin;

function start(args: string[], ready: RegExp): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${out}`)), 90_000);
    const check = (d: Buffer) => {
      out += d;
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}:\n${out}`)));
  });
}

let apiA: string;
let apiB: string;
beforeAll(async () => {
  // a slow model, so a reply is still streaming when its API process is killed
  model = await startOpenAIStandin({ tokens: TOKENS, ttftMs: 0, interTokenMs: 40 });
  env = childEnv(config, {
    LOG_LEVEL: 'info',
    PORT: '0',
    EMBEDDER: 'local-hash',
    EXTRACT_THREADS: '1',
    CHAT_BASE_URL: model.url,
    CHAT_MODEL: 'standin-model',
    MEMORY_LLM: 'off',
  });
  const api = /on http:\/\/localhost:(\d+)\/graphql/;
  const [a, b] = await Promise.all([
    start(['src/main.ts'], api),
    start(['src/main.ts'], api),
    start(['src/worker.ts'], /workers running/),
    start(['src/worker.ts'], /workers running/),
  ]);
  apiA = a[1]!;
  apiB = b[1]!;
}, 120_000);
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await model?.close();
});

function clientOf(port: string, userId: string): TestClient {
  return createTestClient({
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    token: issueToken(TEST_AUTH_SECRET, userId),
    userId,
  });
}

const text = (i: number) =>
  Array.from(
    { length: 30 },
    (_, s) =>
      `Document ${i}, note ${s}: the ferry left the harbour at ${s % 12} with ${i + s} passengers aboard. `,
  ).join('');

describe('two API processes and two worker processes', () => {
  it('a subscriber on API A sees the progress of uploads through API B; 20 documents are each processed once', async () => {
    const userId = `u-${randomUUID()}`;
    const onA = clientOf(apiA, userId);
    const onB = clientOf(apiB, userId);
    const progress = onA.subscribeWs(IngestProgressDocument, {});
    try {
      // the subscription is live once a first upload's events arrive; then the batch of 20
      const first = await uploadDocument(onB, 'first.txt', text(-1));
      await progress.until(
        (e) => e.data?.ingestProgress.documentId === first.id && e.data.ingestProgress.stage === 'DONE',
        60_000,
      );

      const docs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => uploadDocument(i % 2 ? onA : onB, `doc-${i}.txt`, text(i))),
      );
      const ids = new Set(docs.map((d) => d.id));
      expect(ids.size).toBe(20);
      const done = (id: string) =>
        progress.received.filter(
          (e) => e.data?.ingestProgress.documentId === id && e.data.ingestProgress.stage === 'DONE',
        );
      await progress.until(() => [...ids].every((id) => done(id).length > 0), 120_000);

      for (const doc of docs) {
        const settledDoc = await settled(onA, doc.id, 30_000);
        expect(settledDoc, doc.filename).toMatchObject({ status: 'PROCESSED', error: null });
        // one ingest: a single DONE, of its first attempt
        expect(
          done(doc.id).map((e) => e.data!.ingestProgress.attempt),
          doc.filename,
        ).toEqual([1]);
        // its chunks once each: indexes 0..n-1 with no repeat, as many as the row counts
        const full = await getDocument(onB, doc.id, 500);
        if (full.__typename !== 'Document' || full.chunks.__typename !== 'DocumentChunksConnection')
          throw new Error(`document ${doc.id}: ${full.__typename}`);
        const indexes = full.chunks.edges.map((e) => e.node.index);
        expect(indexes, doc.filename).toEqual(indexes.map((_, i) => i));
        expect(indexes.length, doc.filename).toBe(settledDoc.chunkCount);
      }
    } finally {
      progress.close();
      onA.dispose();
      onB.dispose();
    }
  }, 240_000);

  it('a reply whose API process is SIGKILLed mid-stream is resumed whole on the other API with afterSeq', async () => {
    const userId = `u-${randomUUID()}`;
    const onA = clientOf(apiA, userId);
    const onB = clientOf(apiB, userId);
    try {
      const sessionId = await startChat(onA);
      const { assistantMessageId: messageId } = await sendMessage(onA, sessionId, 'Tell me a story');
      const live = onA.subscribeWs(TwinReplyDocument, { messageId });
      await live.until(() => tokensOf(events(live.received)).length >= 3, 30_000);
      // the API process A serving this socket dies without a word; the reply runs on a worker
      const apiAProcess = children[0]!; // the first started: API A
      const exited = new Promise((resolve) => apiAProcess.once('exit', resolve));
      apiAProcess.kill('SIGKILL');
      await exited;
      live.close();
      const before = events(live.received);
      const lastSeq = Math.max(...before.map((e) => ('seq' in e ? (e.seq as number) : 0)));

      const resumed = events(
        await onB.subscribeWs(TwinReplyDocument, { messageId, afterSeq: lastSeq }).until(isTerminal, 30_000),
      );
      expect(resumed.every((e) => !('seq' in e) || (e.seq as number) > lastSeq)).toBe(true);
      expect(resumed.at(-1)?.__typename).toBe('ReplyDone');
      // killed mid-reply: part of it was still to come
      expect(tokensOf(resumed).length).toBeGreaterThan(0);
      const reassembled = [...tokensOf(before), ...tokensOf(resumed)].map((t) => t.text).join('');
      expect(reassembled).toBe(TOKENS.join(''));

      const session = await onB.request(ChatSessionDocument, { id: sessionId });
      if (session.data?.chatSession.__typename !== 'ChatSession') throw new Error(JSON.stringify(session));
      const stored = session.data.chatSession.messages.find((m) => m.id === messageId);
      expect(stored?.content).toBe(reassembled);
    } finally {
      onA.dispose();
      onB.dispose();
    }
  }, 120_000);
});

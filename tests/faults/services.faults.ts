import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../src/container.ts';
import { jobs } from '../../src/jobs/registry.ts';
import {
  ChatSessionDocument,
  DocumentDocument,
  ReprocessDocumentDocument,
} from '../../src/sdk/generated/graphql.ts';
import { issueToken } from '../../src/services/auth.service.ts';
import { sendMessage, startChat } from '../helpers/chat.ts';
import { removeUsers } from '../helpers/cleanup.ts';
import { createTestClient, type TestClient } from '../helpers/client.ts';
import { childEnv, TEST_AUTH_SECRET, testConfig } from '../helpers/harness.ts';
import { uploadDocument } from '../helpers/ingest.ts';
import { type OpenAIStandin, startOpenAIStandin } from '../helpers/openai-standin.ts';
import { expectPackedChunks } from '../helpers/packed-chunks.ts';
import { freePort, spawnHealthy } from '../helpers/processes.ts';

// The fault suite (issue #14; `npm run test:faults`, on services of its own: scripts/test-faults.sh).
// For each of Redis, PostgreSQL, MinIO and Weaviate in turn, and for the worker process itself:
// 50 small documents ingest and 10 replies stream (the OpenAI stand-in, slowly) when it is
// SIGKILLed, and it is started again a few seconds later. Then every document and reply must reach
// a final state, and the stores must be exact: each processed document once in PostgreSQL, in its
// S3 chunk file and in Weaviate (expectPackedChunks), each reply once in its transcript. A document
// that ended FAILED (its retries ran out while the service was down) must say why, and a reprocess
// must then bring it to PROCESSED: nothing is lost. The API and the worker run as child processes,
// restarted when one dies, as a supervisor would; the table counts those restarts.

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = 50;
const REPLIES = 10;
const DOWN_MS = 3000;
const TOKENS = Array.from({ length: 40 }, (_, i) => ` word${i}`);
const REPLY = TOKENS.join('');

let services: Services;
let model: OpenAIStandin;
const config = testConfig({ LOG_LEVEL: 'silent' });
const users: string[] = [];
let apiPort: number;
const processes: { api?: ChildProcess; worker?: ChildProcess } = {};
const restarts = { api: 0, worker: 0 };
let stopping = false;
const results: Record<string, unknown>[] = [];

function childEnvOf(extra: Record<string, string>) {
  return childEnv(config, {
    LOG_LEVEL: 'warn',
    CHAT_BACKEND: 'openai',
    CHAT_BASE_URL: model.url,
    CHAT_MODEL: 'standin-model',
    CHAT_IDLE_MS: '600000',
    AUTH_ALLOW_ANONYMOUS: 'false',
    MEMORY_DEBOUNCE_MS: '600000',
    // a crashed or cut-off worker's jobs come back after a short lock, not 30 s
    JOB_LOCK_MS: '4000',
    JOB_STALLED_INTERVAL_MS: '1000',
    // retries outlast an outage of a few seconds: 2 s, 4 s (production's policy, slower)
    JOB_BACKOFF_MS: '2000',
    ...extra,
  });
}

async function startApi(): Promise<void> {
  const { child } = await spawnHealthy('api', process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    env: childEnvOf({ PORT: String(apiPort), HOST: '127.0.0.1', RUN_WORKERS: 'false' }),
    healthUrl: `http://127.0.0.1:${apiPort}/healthz`,
    timeoutMs: 60_000,
  });
  processes.api = child;
  child.once('exit', () => {
    if (stopping) return;
    restarts.api++;
    void startApi();
  });
}

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, ['src/worker.ts'], {
    cwd: ROOT,
    env: childEnvOf({ WORKER_CONCURRENCY: '4' }),
    stdio: 'ignore',
  });
  processes.worker = child;
  child.once('exit', () => {
    if (stopping || processes.worker !== child) return;
    restarts.worker++;
    startWorker();
  });
  return child;
}

function services_(args: string[]) {
  // without the URLs the suite runs on, services.sh manages its own servers (TWIN_DATA_DIR, ports)
  const env = { ...process.env };
  for (const name of [
    'DATABASE_URL',
    'REDIS_URL',
    'WEAVIATE_URL',
    'WEAVIATE_GRPC_URL',
    'S3_ENDPOINT',
    'S3_BUCKET',
  ])
    delete env[name];
  return execFileSync('bash', [join(ROOT, 'scripts', 'services.sh'), ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function newClient(): TestClient {
  const userId = `fault-${randomUUID()}`;
  users.push(userId);
  return createTestClient({
    url: `http://127.0.0.1:${apiPort}/graphql`,
    wsUrl: `ws://127.0.0.1:${apiPort}/graphql`,
    token: issueToken(TEST_AUTH_SECRET, userId),
    userId,
  });
}

/** Retries `fn` while the API or a service behind it is down, until `timeoutMs`. */
async function retrying<T>(fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

async function documentOf(client: TestClient, id: string) {
  const res = await client.request(DocumentDocument, { id, first: 1 });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  const doc = res.data!.document;
  if (doc.__typename !== 'Document') throw new Error(`document ${id}: ${doc.__typename}`);
  return doc;
}

async function finalDocuments(client: TestClient, ids: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const final = new Map<string, Awaited<ReturnType<typeof documentOf>>>();
  while (final.size < ids.length) {
    for (const id of ids) {
      if (final.has(id)) continue;
      const doc = await documentOf(client, id).catch(() => null);
      if (doc && (doc.status === 'PROCESSED' || doc.status === 'FAILED')) final.set(id, doc);
    }
    if (final.size < ids.length && Date.now() > deadline)
      throw new Error(`${ids.length - final.size} documents not final after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return final;
}

async function transcriptOf(client: TestClient, sessionId: string) {
  const res = await client.request(ChatSessionDocument, { id: sessionId });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  const session = res.data!.chatSession;
  if (session.__typename !== 'ChatSession') throw new Error(session.__typename);
  return session.messages;
}

async function finalReplies(client: TestClient, sessions: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const final = new Map<string, Awaited<ReturnType<typeof transcriptOf>>>();
  while (final.size < sessions.length) {
    for (const id of sessions) {
      if (final.has(id)) continue;
      const messages = await transcriptOf(client, id).catch(() => null);
      const reply = messages?.find((m) => m.role === 'ASSISTANT');
      if (reply?.status) final.set(id, messages!); // null while it streams
    }
    if (final.size < sessions.length && Date.now() > deadline)
      throw new Error(`${sessions.length - final.size} replies not final after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return final;
}

const text = (d: number) =>
  Array.from(
    { length: 120 },
    (_, i) =>
      `Entry ${i} of notebook ${d} tells of the ${['heron', 'quarry', 'lantern', 'orchard', 'glacier'][(i + d) % 5]} walk number ${i * 7 + d}.`,
  ).join(' ');

/** 50 documents ingesting and 10 replies streaming, `fault` in the middle, then exactness. */
async function underFault(name: string, fault: () => Promise<void>) {
  const client = newClient();
  const begun = Date.now();
  // uploaded ten at a time, so that most are still ingesting when the fault comes
  const docs: string[] = [];
  for (let d = 0; d < DOCS; d += 10) {
    const batch = Array.from({ length: Math.min(10, DOCS - d) }, (_, i) =>
      uploadDocument(client, `notebook-${d + i}.txt`, text(d + i)),
    );
    for (const doc of await Promise.all(batch)) docs.push(doc.id);
  }
  const sessions: string[] = [];
  for (let r = 0; r < REPLIES; r++) {
    const sessionId = await startChat(client);
    await sendMessage(client, sessionId, `What did notebook ${r} say about the heron?`);
    sessions.push(sessionId);
  }
  const [inFlight] = await services.orm.em
    .getConnection()
    .execute<{ n: number }[]>(
      "SELECT count(*)::int AS n FROM documents WHERE user_id = ? AND status IN ('queued', 'processing')",
      [client.userId],
    );
  const ingesting = inFlight?.n ?? 0;
  await fault();

  const documents = await finalDocuments(client, docs, 240_000);
  const replies = await finalReplies(client, sessions, 240_000);
  const failedDocs = [...documents.values()].filter((d) => d.status === 'FAILED');
  for (const doc of failedDocs) expect(doc.error, `document ${doc.id} failed without a reason`).toBeTruthy();
  // what failed is not lost: a reprocess brings it back
  for (const doc of failedDocs)
    await retrying(() => client.request(ReprocessDocumentDocument, { id: doc.id }));
  const after = failedDocs.length
    ? await finalDocuments(
        client,
        failedDocs.map((d) => d.id),
        120_000,
      )
    : new Map();
  for (const [id, doc] of after) documents.set(id, doc);
  let duplicated = 0;
  for (const doc of documents.values()) {
    expect({ id: doc.id, status: doc.status, error: doc.error }).toEqual({
      id: doc.id,
      status: 'PROCESSED',
      error: null,
    });
    const vectors = await services.vectors.countByDocument(client.userId, doc.id);
    if (vectors > doc.chunkCount) duplicated++;
    await expectPackedChunks(services, client.userId, doc.id, doc.chunkCount);
  }
  let repliesFailed = 0;
  const replyErrors = new Set<string>();
  for (const messages of replies.values()) {
    // one exchange each: the question once, the reply once (never repeated by a retry)
    expect(messages.map((m) => m.role)).toEqual(['USER', 'ASSISTANT']);
    const reply = messages[1]!;
    if (reply.status === 'COMPLETE') expect(reply.content).toBe(REPLY);
    else {
      repliesFailed++;
      expect(reply.status).toBe('FAILED');
      expect(reply.error, 'a failed reply says why').toBeTruthy();
      replyErrors.add(reply.error!);
    }
  }
  const row = {
    fault: name,
    ingestingAtFault: ingesting,
    documentsFinal: `${documents.size}/${DOCS}`,
    failedThenReprocessed: failedDocs.length,
    repliesComplete: REPLIES - repliesFailed,
    repliesFailed,
    replyErrors: [...replyErrors].join(' | '),
    lost: DOCS - documents.size,
    duplicated,
    apiRestarts: restarts.api,
    workerRestarts: restarts.worker,
    seconds: Math.round((Date.now() - begun) / 100) / 10,
  };
  results.push(row);
  console.log('fault result', JSON.stringify(row));
}

const killAndRestart = (service: string) => async () => {
  services_(['kill', service]);
  await new Promise((r) => setTimeout(r, DOWN_MS));
  services_(['up']);
};

beforeAll(async () => {
  if (!process.env.TWIN_DATA_DIR?.includes('faults'))
    throw new Error(
      'the fault suite kills its services: run it with npm run test:faults, never on the dev services',
    );
  model = await startOpenAIStandin({ tokens: TOKENS, ttftMs: 200, interTokenMs: 100 });
  services = await createServices(config, pino({ level: 'silent' }), jobs);
  apiPort = await freePort();
  await startApi();
  startWorker();
});

afterAll(async () => {
  stopping = true;
  processes.worker?.kill('SIGKILL');
  processes.api?.kill('SIGKILL');
  if (results.length) {
    console.table(results);
    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    writeFileSync(join(ROOT, 'test-results', 'faults.json'), `${JSON.stringify(results, null, 2)}\n`);
  }
  if (services) await removeUsers(services.config, services.blobs, services.orm, users).catch(() => {});
  await services?.close();
  await model?.close();
});

describe('a service SIGKILLed while documents ingest and replies stream', () => {
  for (const service of ['redis', 'postgres', 'minio', 'weaviate'])
    it(`${service}: every document and reply ends, exactly once, nothing lost`, async () => {
      await underFault(service, killAndRestart(service));
    });

  it('the worker: its jobs complete exactly once on the next worker', async () => {
    await underFault('worker', async () => {
      const worker = processes.worker!;
      processes.worker = undefined;
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      startWorker();
    });
  });
});

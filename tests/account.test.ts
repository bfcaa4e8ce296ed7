import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVectorIndex } from '../src/container.ts';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  DeleteAccountDocument,
  DeleteChatDocument,
  DocumentsDocument,
  EndChatDocument,
  ExportMyDataDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { idleJobId } from '../src/services/chat/chat.service.ts';
import type { ChunkVector } from '../src/services/ports/vector-index.ts';
import { isTerminal, sendMessage, startChat } from './helpers/chat.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp, testConfig } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

// DESIGN §10: a person deletes a chat with all it became, deletes the account from every store,
// and downloads everything stored about them; another user's data is never touched or shown.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let app: TestApp;
let model: OpenAIStandin;
const users: string[] = [];

beforeAll(async () => {
  model = await startOpenAIStandin({ tokens: ['Noted', '.'] });
  app = await startTestApp({ withWorkers: true, env: { CHAT_BASE_URL: model.url, CHAT_IDLE_MS: '600000' } });
});
afterAll(async () => {
  if (app) await removeUsers(app.config, app.services.blobs, app.services.orm, users);
  await app?.close();
  await model?.close();
});

function client(): TestClient {
  const c = app.client();
  users.push(c.userId);
  return c;
}

async function exchange(c: TestClient, sessionId: string, content: string) {
  const sent = await sendMessage(c, sessionId, content);
  const sub = c.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
  await sub.until(isTerminal, 15_000);
  sub.close();
}

async function chatDocuments(c: TestClient) {
  const res = await c.request(DocumentsDocument, { first: 50, kind: 'CHAT' });
  return member(res.data!.documents, 'QueryDocumentsConnection').edges.map((e) => e.node);
}

/** Ends the chat and waits for the memory document it becomes. */
async function memorize(c: TestClient, sessionId: string, except: string[] = []) {
  await c.request(EndChatDocument, { sessionId });
  for (let i = 0; i < 200; i++) {
    const doc = (await chatDocuments(c)).find((d) => !except.includes(d.id) && d.status === 'PROCESSED');
    if (doc) return doc.id;
    await sleep(100);
  }
  throw new Error(`chat ${sessionId} never became a memory`);
}

/** A user with a document, a chat that became a memory (with an idle job pending), another chat, and an API key. */
async function seedUser(c: TestClient, words: string) {
  const doc = await uploadDocument(c, `${words}.txt`, `${words}: the notes of ${c.userId} about ${words}.`);
  await settled(c, doc.id);
  const remembered = await startChat(c, `${words} chat`);
  await exchange(c, remembered, `I grew up near the ${words} river.`);
  const memoryId = await memorize(c, remembered);
  // resumed after it was memorized: an idle memory job waits for it
  await exchange(c, remembered, `The ${words} river floods every March.`);
  const kept = await startChat(c, `${words} other chat`);
  await exchange(c, kept, `My ${words} cousin bakes bread.`);
  const created = await c.request(CreateApiKeyDocument, { name: 'cli' });
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const key = member(created.data.createApiKey, 'CreatedApiKey');
  return { documentId: doc.id, remembered, memoryId, kept, apiKey: key.secret };
}

async function rowCounts(userId: string) {
  const db = app.services.orm.em.getConnection();
  const count = async (sql: string) => Number((await db.execute<{ n: string }[]>(sql, [userId]))[0]!.n);
  return {
    users: await count('SELECT count(*) AS n FROM users WHERE id = ?'),
    documents: await count('SELECT count(*) AS n FROM documents WHERE user_id = ?'),
    chatSessions: await count('SELECT count(*) AS n FROM chat_sessions WHERE user_id = ?'),
    apiKeys: await count('SELECT count(*) AS n FROM api_keys WHERE user_id = ?'),
    trainingJobs: await count('SELECT count(*) AS n FROM training_jobs WHERE user_id = ?'),
  };
}

async function download(token: string) {
  const res = await fetch(app.url.replace(/\/graphql$/, '/export'), {
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

describe("a person's control over their data", () => {
  it('deleteChat removes the chat, its memory, its chunks and vectors and its pending job; other chats stay', async () => {
    const me = client();
    const other = client();
    const mine = await seedUser(me, 'Douro');
    const theirs = await seedUser(other, 'Tagus');
    const { blobs, vectors, queue } = app.services;
    expect(await vectors.countByDocument(me.userId, mine.memoryId)).toBeGreaterThan(0);
    expect(await queue.get('chat', idleJobId(mine.remembered, 2))).toMatchObject({ state: 'delayed' });
    const memoryKeys = (await blobs.list(me.userId, '')).filter((k) => k.includes(mine.memoryId));
    expect(memoryKeys.length).toBeGreaterThan(1);
    const chatObjects = await blobs.list(me.userId, `chats/${mine.remembered}/`);
    expect(chatObjects).toContain(`chats/${mine.remembered}/processed/chat_0.txt`);

    // someone else's session is not found, and stays
    const foreign = await other.request(DeleteChatDocument, { sessionId: mine.remembered });
    expect(foreign.data!.deleteChat).toMatchObject({ __typename: 'NotFound' });

    const res = await me.request(DeleteChatDocument, { sessionId: mine.remembered });
    const deleted = member(res.data!.deleteChat, 'DeletedChat');
    expect(deleted).toMatchObject({ id: mine.remembered, documents: 1 });
    expect(deleted.vectors).toBeGreaterThan(0);

    const db = app.services.orm.em.getConnection();
    expect(await db.execute('SELECT id FROM chat_sessions WHERE id = ?', [mine.remembered])).toEqual([]);
    expect(await db.execute('SELECT id FROM documents WHERE id = ?', [mine.memoryId])).toEqual([]);
    const left = await blobs.list(me.userId, '');
    expect(left.filter((k) => k.includes(mine.remembered) || k.includes(mine.memoryId))).toEqual([]);
    expect(await vectors.countByDocument(me.userId, mine.memoryId)).toBe(0);
    expect(await queue.get('chat', idleJobId(mine.remembered, 2))).toBeNull();
    expect(deleted.objects).toBe(memoryKeys.length + chatObjects.length);

    // the other chat, the document, and the other user's chat are untouched
    expect(left).toContain(`chats/${mine.kept}/messages.json`);
    expect(await vectors.countByDocument(me.userId, mine.documentId)).toBeGreaterThan(0);
    expect(
      await db.execute('SELECT id FROM chat_sessions WHERE id IN (?)', [[mine.kept, theirs.remembered]]),
    ).toHaveLength(2);
    expect(await vectors.countByDocument(other.userId, theirs.memoryId)).toBeGreaterThan(0);
  });

  it('exportMyData is a zip of your rows, files, chunks and transcripts, and nothing of anyone else', async () => {
    const me = client();
    const other = client();
    const mine = await seedUser(me, 'Mondego');
    const theirs = await seedUser(other, 'Guadiana');
    const info = await me.request(ExportMyDataDocument, {});
    expect(info.data!.exportMyData).toEqual({ path: '/export', contentType: 'application/zip' });

    const got = await download(me.token);
    expect(got).toMatchObject({ status: 200, type: 'application/zip' });
    const files = unzipSync(got.body);
    const names = Object.keys(files);
    const text = (name: string) => Buffer.from(files[name]!).toString('utf8');
    const raw = names.find((n) => n.startsWith(`files/raw/${mine.documentId}/`));
    expect(raw && text(raw)).toBe(`Mondego: the notes of ${me.userId} about Mondego.`);
    expect(names).toContain(`files/chunks/${mine.documentId}.jsonl`);
    expect(text(`files/chats/${mine.kept}/messages.json`)).toContain('My Mondego cousin bakes bread.');
    expect(text(`files/chats/${mine.remembered}/messages.json`)).toContain('floods every March');
    const rows = JSON.parse(text('account.json')) as Record<string, { id: string; key_hash?: string }[]>;
    expect(rows.documents!.map((d) => d.id).sort()).toEqual([mine.documentId, mine.memoryId].sort());
    expect(rows.chat_sessions!.map((s) => s.id).sort()).toEqual([mine.kept, mine.remembered].sort());
    expect(rows.api_keys).toHaveLength(1);
    expect(rows.api_keys![0]!.key_hash).toBeUndefined();

    const everything = names.map((n) => n + text(n)).join('\n');
    for (const foreign of [other.userId, theirs.documentId, theirs.kept, theirs.memoryId, 'Guadiana'])
      expect(everything).not.toContain(foreign);

    expect((await download('not-a-token')).status).toBe(401);
  });

  it('deleteAccount leaves nothing of the user in any store, and another user untouched', async () => {
    const me = client();
    const other = client();
    const mine = await seedUser(me, 'Minho');
    const theirs = await seedUser(other, 'Sado');
    const { blobs, vectors } = app.services;
    const theirsBefore = {
      rows: await rowCounts(other.userId),
      objects: (await blobs.list(other.userId, '')).sort(),
      vectors: await vectors.countTenant(other.userId),
    };
    const objects = (await blobs.list(me.userId, '')).length;
    const vectorCount = await vectors.countTenant(me.userId);
    expect(vectorCount).toBeGreaterThan(0);

    const wrong = await me.request(DeleteAccountDocument, { confirm: other.userId });
    expect(wrong.data!.deleteAccount).toMatchObject({ __typename: 'InvalidInput' });
    expect((await rowCounts(me.userId)).documents).toBe(2);

    const res = await me.request(DeleteAccountDocument, { confirm: me.userId });
    const receipt = member(res.data!.deleteAccount, 'AccountDeletionReceipt');
    expect(receipt).toMatchObject({
      userId: me.userId,
      rows: { users: 1, documents: 2, chatSessions: 2, apiKeys: 1, trainingJobs: 0 },
      objects,
      vectors: vectorCount,
    });
    expect(Date.now() - Date.parse(receipt.deletedAt)).toBeLessThan(60_000);

    expect(await rowCounts(me.userId)).toEqual({
      users: 0,
      documents: 0,
      chatSessions: 0,
      apiKeys: 0,
      trainingJobs: 0,
    });
    expect(await blobs.list(me.userId, '')).toEqual([]);
    expect(await vectors.countTenant(me.userId)).toBe(0);
    expect(await vectors.countByDocument(me.userId, mine.documentId)).toBe(0);

    expect(await rowCounts(other.userId)).toEqual(theirsBefore.rows);
    expect((await blobs.list(other.userId, '')).sort()).toEqual(theirsBefore.objects);
    expect(await vectors.countTenant(other.userId)).toBe(theirsBefore.vectors);
    expect(await vectors.countByDocument(other.userId, theirs.documentId)).toBeGreaterThan(0);

    // the API key is refused; the access token acts as a new, empty user
    const byKey = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${mine.apiKey}` },
      body: JSON.stringify({ query: '{ apiKeys { id } }' }),
    });
    expect(byKey.status).toBe(401);
    expect((await me.request(ApiKeysDocument, {})).data!.apiKeys).toEqual([]);
    expect(await chatDocuments(me)).toEqual([]);
    const again = await uploadDocument(me, 'fresh.txt', 'A fresh start after the deletion.');
    expect((await settled(me, again.id)).status).toBe('PROCESSED');
  });
});

describe.each(['weaviate', 'embedded'] as const)('VectorIndex.deleteTenant (%s)', (backend) => {
  it("removes the user's tenant from every model's collection, and only theirs", async () => {
    const env: Record<string, string> = { VECTOR_BACKEND: backend };
    if (backend === 'embedded') env.EMBEDDED_VECTOR_DIR = await mkdtemp(path.join(tmpdir(), 'twin-account-'));
    const config = testConfig(env);
    // a second index over the same store stands for another process (the worker)
    const [index, elsewhere] = [await createVectorIndex(config), await createVectorIndex(config)];
    const [gone, stays] = [`u-${randomUUID()}`, `u-${randomUUID()}`];
    const vector = (model: string, documentId: string, i: number): ChunkVector => ({
      documentId,
      chunkIndex: i,
      s3Path: `chunks/${documentId}/chunk_${i}.txt`,
      filename: 'a.txt',
      contentType: 'text/plain',
      timestamp: new Date(0).toISOString(),
      embeddingModel: model,
      charStart: 0,
      charEnd: 1,
      page: null,
      vector: [1, i, 0.5, 0.25],
    });
    try {
      for (const userId of [gone, stays]) {
        const doc = randomUUID();
        await index.upsert(userId, [vector('account-test-a@4', doc, 0), vector('account-test-a@4', doc, 1)]);
        await index.upsert(userId, [vector('account-test-b@4', doc, 0)]);
      }
      expect(await elsewhere.countTenant(gone)).toBe(3);
      expect(await index.deleteTenant(gone)).toBe(3);
      expect(await index.countTenant(gone)).toBe(0);
      expect(await elsewhere.countTenant(gone)).toBe(0);
      const hits = await elsewhere.search(gone, [1, 0, 0.5, 0.25], {
        limit: 5,
        embeddingModel: 'account-test-a@4',
      });
      expect(hits).toEqual([]);
      expect(await index.countTenant(stays)).toBe(3);
      expect(await index.deleteTenant(gone)).toBe(0);
      // the user comes back as a new one, written by the other process that knew the old tenant
      await elsewhere.upsert(gone, [vector('account-test-a@4', randomUUID(), 0)]);
      expect(await index.countTenant(gone)).toBe(1);
      expect(await elsewhere.countTenant(gone)).toBe(1);
    } finally {
      await index.deleteTenant(stays);
      await index.deleteTenant(gone);
      await Promise.all([index.close(), elsewhere.close()]);
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  DocumentsDocument,
  EndChatDocument,
  SearchDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { isTerminal, sendMessage, startChat } from './helpers/chat.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';
import { chunkObjectsOf, expectPackedChunks } from './helpers/packed-chunks.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function chatDocuments(client: TestClient) {
  const res = await client.request(DocumentsDocument, { first: 50, kind: 'CHAT' });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  return member(res.data!.documents, 'QueryDocumentsConnection').edges.map((e) => e.node);
}

async function waitForChatDocument(client: TestClient, except: string[] = [], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const docs = (await chatDocuments(client)).filter((d) => !except.includes(d.id));
    const doc = docs.find((d) => d.status === 'PROCESSED' || d.status === 'FAILED');
    if (doc) return doc;
    if (Date.now() > deadline) throw new Error('no chat memory was ingested');
    await sleep(100);
  }
}

async function exchange(client: TestClient, sessionId: string, content: string) {
  const sent = await sendMessage(client, sessionId, content);
  const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
  await sub.until(isTerminal, 15_000);
  sub.close();
}

describe('chats become memories', () => {
  let app: TestApp | undefined;
  let model: OpenAIStandin | undefined;
  afterEach(async () => {
    await app?.close();
    await model?.close();
    app = undefined;
    model = undefined;
  });

  it("ingests an ended chat's own words as a CHAT document that search finds, never the twin's", async () => {
    model = await startOpenAIStandin({ tokens: ['You', ' live in', ' Quimperlé', ' and keep bees.'] });
    app = await startTestApp({
      withWorkers: true,
      env: { CHAT_BASE_URL: model.url, CHAT_IDLE_MS: '600000' },
    });
    const client = app.client();
    const sessionId = await startChat(client, 'Ouessant');
    await exchange(client, sessionId, 'I kept the Créac’h lighthouse on Ouessant island for nine winters.');
    const ended = await client.request(EndChatDocument, { sessionId });
    expect(ended.data!.endChat).toMatchObject({ __typename: 'ChatSession', id: sessionId });

    const doc = await waitForChatDocument(client);
    expect(doc).toMatchObject({ kind: 'CHAT', status: 'PROCESSED' });
    expect(doc.chunkCount).toBeGreaterThan(0);
    // the finished chat's exchanges are training material now
    const processed = await app.services.blobs.list(client.userId, `chats/${sessionId}/processed/`);
    expect(processed).toEqual([`chats/${sessionId}/processed/chat_0.txt`]);
    const training = await app.services.blobs.get(client.userId, processed[0]!);
    expect(training.toString()).toBe(
      'user: I kept the Créac’h lighthouse on Ouessant island for nine winters.\n' +
        'assistant: You live in Quimperlé and keep bees.\n',
    );
    const res = await client.request(SearchDocument, { query: 'lighthouse Ouessant winters', limit: 5 });
    const search = res.data!.search;
    if (search.__typename !== 'SearchResults') throw new Error(search.__typename);
    expect(search.data[0]!.document.id).toBe(doc.id);
    expect(search.data[0]!.text).toContain('nine winters');
    // the twin's reply is not a memory of the person: no chunk of the memory holds its words
    const memory = await client.request(SearchDocument, { query: 'Quimperlé bees', limit: 20 });
    if (memory.data!.search.__typename !== 'SearchResults') throw new Error('search failed');
    const memoryText = memory.data!.search.data.map((h) => h.text).join('\n');
    expect(memoryText).not.toContain('Quimperlé');
    expect(memoryText).not.toContain('keep bees');

    // someone else's search never sees it
    const other = app.client();
    const theirs = await other.request(SearchDocument, { query: 'lighthouse Ouessant winters', limit: 5 });
    expect(theirs.data!.search).toMatchObject({ __typename: 'SearchResults', data: [] });
  });

  it('memorizes a session that goes idle, and keeps one memory per session when it resumes', async () => {
    model = await startOpenAIStandin({ tokens: ['Noted', '.'] });
    app = await startTestApp({ withWorkers: true, env: { CHAT_BASE_URL: model.url, CHAT_IDLE_MS: '1000' } });
    const client = app.client();
    const sessionId = await startChat(client);
    await exchange(client, sessionId, 'My sister Ines plays the cello in Coimbra.');
    const first = await waitForChatDocument(client);
    expect(first.status).toBe('PROCESSED');

    await exchange(client, sessionId, 'And my brother Tomas repairs clocks in Braga.');
    await client.request(EndChatDocument, { sessionId });
    const second = await waitForChatDocument(client, [first.id]);
    expect(second.status).toBe('PROCESSED');
    for (let i = 0; i < 50 && (await chatDocuments(client)).length > 1; i++) await sleep(100);
    expect((await chatDocuments(client)).map((d) => d.id)).toEqual([second.id]);
    // the replaced memory leaves no chunk file, vector or lexical row; the new one is stored once
    expect(await chunkObjectsOf(app.services, client.userId, first.id)).toEqual([]);
    expect(await app.services.vectors.countByDocument(client.userId, first.id)).toBe(0);
    expect(await app.services.lexical.countByDocument(client.userId, first.id)).toBe(0);
    await expectPackedChunks(app.services, client.userId, second.id, second.chunkCount);
  });
});

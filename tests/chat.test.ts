import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import {
  CancelReplyDocument,
  ChatSessionDocument,
  ChatSessionsDocument,
  EndChatDocument,
  SendMessageDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { idleJobId } from '../src/services/chat/chat.service.ts';
import { type ChatRecord, newMessageId } from '../src/services/chat/chat-records.ts';
import {
  deltaSizes,
  events,
  isTerminal,
  seedChunks,
  sendMessage,
  startChat,
  tokensOf,
} from './helpers/chat.ts';
import { member } from './helpers/client.ts';
import { type TestApp, testConfig } from './helpers/harness.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';

const TOKENS = Array.from({ length: 40 }, (_, i) => ` tok${i}`);
const SLOW = Array.from({ length: 150 }, (_, i) => ` slow${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chat with the twin', () => {
  let app: TestApp;
  let model: OpenAIStandin;

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp({ tokens: TOKENS, ttftMs: 20, interTokenMs: 1 }));
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
  });

  it('streams every token in order over WebSocket and SSE, with the cited chunks exactly those in the prompt', async () => {
    const client = app.client();
    const seeded = await seedChunks(app.services, client.userId, [
      'I grew up in Porto and learned to sail on the Douro river.',
      'My favourite dish is bacalhau com natas, which my grandmother cooked on Sundays.',
      'Quarterly revenue figures for the widget factory were flat.',
    ]);
    const sessionId = await startChat(client, 'Childhood');
    const sent = await sendMessage(client, sessionId, 'Where did I learn to sail on the river?');
    expect(sent.userMessage.content).toBe('Where did I learn to sail on the river?');

    const ws = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const sse = client.subscribeSse(TwinReplyDocument, { messageId: sent.assistantMessageId });
    for (const sub of [ws, sse]) {
      const list = events(await sub.until(isTerminal, 15_000));
      const tokens = tokensOf(list);
      expect(tokens.map((t) => t.text).join('')).toBe(TOKENS.join(''));
      expect(deltaSizes(TOKENS, tokens).reduce((a, b) => a + b, 0)).toBe(TOKENS.length);
      expect(tokens[0]!.index).toBe(0);
      const seqs = list.map((e) => ('seq' in e ? e.seq : -1));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const done = list.at(-1)!;
      expect(done.__typename).toBe('ReplyDone');
      if (done.__typename === 'ReplyDone') {
        expect(done.model).toBe('standin-model');
        expect(done.finishReason).toBe('stop');
        expect(done.usage?.completionTokens).toBe(TOKENS.length);
      }
      const citations = list.find((e) => e.__typename === 'ReplyCitations');
      if (citations?.__typename !== 'ReplyCitations') throw new Error('no citations');
      // exactly the chunks whose text reached the model, numbered as the prompt numbers them
      const prompt = model.requests.at(-1)!.body.messages[0]!.content;
      citations.sources.forEach((s, i) => {
        const chunk = seeded.find((c) => c.documentId === s.documentId && c.chunkIndex === s.chunkIndex)!;
        expect(prompt).toContain(`[${i + 1}]`);
        expect(prompt).toContain(chunk.text);
      });
      const inPrompt = seeded.filter((c) => prompt.includes(c.text));
      expect(citations.sources.map((s) => `${s.documentId}/${s.chunkIndex}`).sort()).toEqual(
        inPrompt.map((c) => `${c.documentId}/${c.chunkIndex}`).sort(),
      );
      expect(citations.sources[0]!.chunkIndex).toBe(0);
      sub.close();
    }

    const stored = await client.request(ChatSessionDocument, { id: sessionId });
    const session = stored.data!.chatSession;
    if (session.__typename !== 'ChatSession') throw new Error(session.__typename);
    expect(session.messages.map((m) => [m.role, m.content])).toEqual([
      ['USER', 'Where did I learn to sail on the river?'],
      ['ASSISTANT', TOKENS.join('')],
    ]);
    const cited = session.messages[1]!.citations;
    expect(cited.length).toBeGreaterThan(0);
    for (const c of cited) {
      expect(c.text).toBe(
        seeded.find((s) => s.documentId === c.documentId && s.chunkIndex === c.chunkIndex)!.text,
      );
    }
  });

  it('resumes a reply after a reconnect with afterSeq, every token exactly once', async () => {
    model.script = { tokens: SLOW, ttftMs: 10, interTokenMs: 4 };
    const client = app.client();
    const sessionId = await startChat(client);
    const sent = await sendMessage(client, sessionId, 'Tell me a long story');
    const first = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const before = events(
      await first.until((r) => r.data?.twinReply.__typename === 'ReplyToken' && r.data.twinReply.index >= 20),
    );
    first.close();
    const lastSeq = Math.max(...before.map((e) => ('seq' in e ? e.seq : 0)));
    await sleep(100); // tokens keep coming while the client is away
    const second = client.subscribeWs(TwinReplyDocument, {
      messageId: sent.assistantMessageId,
      afterSeq: lastSeq,
    });
    const after = events(await second.until(isTerminal, 15_000));
    second.close();
    expect(after.every((e) => 'seq' in e && e.seq > lastSeq)).toBe(true);
    const all = [...tokensOf(before), ...tokensOf(after)];
    expect(all[0]!.index).toBe(0);
    expect(deltaSizes(SLOW, all).reduce((a, b) => a + b, 0)).toBe(SLOW.length);
    expect(all.map((t) => t.text).join('')).toBe(SLOW.join(''));
    expect(after.at(-1)!.__typename).toBe('ReplyDone');
  });

  it('sends the whole reply to a subscriber that arrives after it ended, then completes', async () => {
    model.script = { tokens: TOKENS, ttftMs: 0 };
    const client = app.client();
    const sessionId = await startChat(client);
    const sent = await sendMessage(client, sessionId, 'Say something');
    // wait for the transcript, i.e. the reply has ended
    for (let i = 0; ; i++) {
      const res = await client.request(ChatSessionDocument, { id: sessionId });
      const s = res.data!.chatSession;
      if (s.__typename === 'ChatSession' && s.messages.length === 2) break;
      if (i > 200) throw new Error('reply never stored');
      await sleep(25);
    }
    for (const sub of [
      client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId }),
      client.subscribeSse(TwinReplyDocument, { messageId: sent.assistantMessageId }),
    ]) {
      const list = events(await sub.until(isTerminal));
      expect(
        tokensOf(list)
          .map((t) => t.text)
          .join(''),
      ).toBe(TOKENS.join(''));
      expect(list[0]!.__typename).toBe('ReplyCitations');
      sub.close();
    }
  });

  it('cancels a reply: the upstream request is aborted and the stream ends as cancelled', async () => {
    model.script = { tokens: SLOW, ttftMs: 10, interTokenMs: 20 };
    const client = app.client();
    const sessionId = await startChat(client);
    const sent = await sendMessage(client, sessionId, 'Talk for a long time');
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    await sub.until((r) => r.data?.twinReply.__typename === 'ReplyToken' && r.data.twinReply.index >= 3);
    const upstream = model.requests.at(-1)!;
    const res = await client.request(CancelReplyDocument, { messageId: sent.assistantMessageId });
    expect(res.data!.cancelReply).toMatchObject({ __typename: 'CancelReplyPayload', cancelled: true });
    const rest = events(await sub.until(isTerminal));
    const done = rest.at(-1)!;
    expect(done).toMatchObject({ __typename: 'ReplyDone', finishReason: 'cancelled' });
    for (let i = 0; i < 50 && !upstream.aborted; i++) await sleep(20);
    expect(upstream.aborted).toBe(true);
    expect(upstream.tokensSent).toBeLessThan(SLOW.length);
    const received = tokensOf(events(sub.received as never));
    expect(received.map((t) => t.text).join('').length).toBeLessThan(SLOW.join('').length);
    sub.close();

    // the partial reply is kept, marked cancelled; a second cancel finds nothing running
    const again = await client.request(CancelReplyDocument, { messageId: sent.assistantMessageId });
    expect(again.data!.cancelReply).toMatchObject({ cancelled: false });
    const stored = await client.request(ChatSessionDocument, { id: sessionId });
    const session = stored.data!.chatSession;
    if (session.__typename !== 'ChatSession') throw new Error(session.__typename);
    expect(session.messages[1]).toMatchObject({ status: 'CANCELLED', finishReason: 'cancelled' });
    expect(session.messages[1]!.content).toBe(received.map((t) => t.text).join(''));
  });

  it('keeps both exchanges when two messages of one session race, in the documented S3 shape', async () => {
    model.script = { tokens: ['a', 'b', 'c'], ttftMs: 30 };
    const client = app.client();
    const sessionId = await startChat(client);
    const [one, two] = await Promise.all([
      sendMessage(client, sessionId, 'First question about boats'),
      sendMessage(client, sessionId, 'Second question about trains'),
    ]);
    for (const sent of [one, two]) {
      const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
      await sub.until(isTerminal);
      sub.close();
    }
    let chat: ChatRecord | undefined;
    for (let i = 0; i < 100; i++) {
      chat = JSON.parse(
        (await app.services.blobs.get(client.userId, `chats/${sessionId}/messages.json`)).toString('utf8'),
      ) as ChatRecord;
      if (chat.messages.length === 4) break;
      await sleep(25);
    }
    expect(chat!.sessionId).toBe(sessionId);
    expect(chat!.messages).toHaveLength(4);
    expect(chat!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    for (const sent of [one, two]) {
      const user = chat!.messages.find((m) => m.id === sent.userMessage.id)!;
      const reply = chat!.messages.find((m) => m.id === sent.assistantMessageId)!;
      expect(reply).toMatchObject({
        role: 'assistant',
        content: 'abc',
        replyTo: user.id,
        status: 'complete',
      });
      expect(chat!.messages.indexOf(reply)).toBe(chat!.messages.indexOf(user) + 1);
    }
    expect(chat!.title).toMatch(/question about/);
    expect(chat!.summary).toContain('boats');
    expect(chat!.summary).toContain('trains');
    expect(Date.parse(chat!.createTime)).not.toBeNaN();
    const metadata = JSON.parse(
      (await app.services.blobs.get(client.userId, `chats/${sessionId}/metadata.json`)).toString('utf8'),
    );
    // written when the session starts (and when it becomes a memory), not after every exchange
    expect(metadata).toMatchObject({ sessionId, createTime: chat!.createTime, messageCount: 0 });
    const list = await client.request(ChatSessionsDocument, { first: 10 });
    const node = member(list.data!.chatSessions, 'QueryChatSessionsConnection').edges.find(
      (e) => e.node.id === sessionId,
    )!.node;
    expect(node.title).toBe(chat!.title);
    expect(node.summary).toBe(chat!.summary);
  });

  it('loses no exchange when two worker processes record replies of one session in turn', async () => {
    // a second process's services: its own caches, the same Redis, S3 and PostgreSQL
    const other = await createServices(
      testConfig({ QUEUE_PREFIX: app.config.QUEUE_PREFIX, EVENT_PREFIX: app.config.EVENT_PREFIX }),
      pino({ level: 'silent' }),
      jobs,
    );
    try {
      const client = app.client();
      const sessionId = await startChat(client);
      const writers = [app.services.chats, other.chats];
      for (let i = 0; i < 4; i++) {
        const user = { id: newMessageId(sessionId), role: 'user' as const, content: `q${i}`, createTime: '' };
        await writers[i % 2]!.recordExchange(client.userId, sessionId, {
          user,
          assistant: { id: newMessageId(sessionId), role: 'assistant', content: `a${i}`, createTime: '' },
        });
      }
      // each process wrote from the transcript the other had just stored, not from its own copy
      const chat = JSON.parse(
        (await app.services.blobs.get(client.userId, `chats/${sessionId}/messages.json`)).toString('utf8'),
      ) as ChatRecord;
      expect(chat.messages.map((m) => m.content)).toEqual(['q0', 'a0', 'q1', 'a1', 'q2', 'a2', 'q3', 'a3']);
      // the idle timer is re-armed, not multiplied: one delayed memory job for the session
      const idle = await Promise.all(
        [1, 2, 3, 4].map((n) => app.services.queue.get('chat', idleJobId(sessionId, n))),
      );
      expect(idle.map((job) => job?.state ?? null)).toEqual([null, null, null, 'delayed']);
    } finally {
      await other.close();
    }
  });

  it("never shows one user another user's sessions, replies or chunks", async () => {
    model.script = { tokens: ['ok'], ttftMs: 0 };
    const alice = app.client();
    const mallory = app.client();
    const secret = 'The vault combination is 7-3-9-1, hidden behind the blue painting.';
    await seedChunks(app.services, alice.userId, [secret]);
    const sessionId = await startChat(alice, 'Private');
    const sent = await sendMessage(alice, sessionId, 'What is the vault combination behind the painting?');
    const aliceSub = alice.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const aliceEvents = events(await aliceSub.until(isTerminal));
    aliceSub.close();
    const aliceCitations = aliceEvents.find((e) => e.__typename === 'ReplyCitations');
    expect(aliceCitations?.__typename === 'ReplyCitations' && aliceCitations.sources.length).toBe(1);

    const notFound = { __typename: 'NotFound', code: 'NOT_FOUND' };
    const send = await mallory.request(SendMessageDocument, { sessionId, content: 'hi' });
    expect(send.data!.sendMessage).toMatchObject(notFound);
    const read = await mallory.request(ChatSessionDocument, { id: sessionId });
    expect(read.data!.chatSession).toMatchObject(notFound);
    const cancel = await mallory.request(CancelReplyDocument, { messageId: sent.assistantMessageId });
    expect(cancel.data!.cancelReply).toMatchObject(notFound);
    const end = await mallory.request(EndChatDocument, { sessionId });
    expect(end.data!.endChat).toMatchObject(notFound);
    for (const sub of [
      mallory.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId }),
      mallory.subscribeSse(TwinReplyDocument, { messageId: sent.assistantMessageId, afterSeq: 0 }),
    ]) {
      const got = events(await sub.until(isTerminal));
      expect(got).toEqual([expect.objectContaining(notFound)]);
      sub.close();
    }
    const sessions = await mallory.request(ChatSessionsDocument, { first: 50 });
    const listed = member(sessions.data!.chatSessions, 'QueryChatSessionsConnection').edges;
    expect(listed.map((e) => e.node.id)).not.toContain(sessionId);

    // mallory asking the same question retrieves nothing of alice's
    const own = await startChat(mallory);
    const asked = await sendMessage(mallory, own, 'What is the vault combination behind the painting?');
    const sub = mallory.subscribeWs(TwinReplyDocument, { messageId: asked.assistantMessageId });
    const got = events(await sub.until(isTerminal));
    sub.close();
    const citations = got.find((e) => e.__typename === 'ReplyCitations');
    expect(citations?.__typename === 'ReplyCitations' && citations.sources).toEqual([]);
    const prompt = model.requests
      .at(-1)!
      .body.messages.map((m) => m.content)
      .join('\n');
    expect(prompt).not.toContain('7-3-9-1');
  });

  it('refuses an empty message and pages through sessions newest first', async () => {
    const client = app.client();
    const sessionId = await startChat(client);
    const empty = await client.request(SendMessageDocument, { sessionId, content: '   ' });
    expect(empty.data!.sendMessage).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
    const unknown = await client.request(SendMessageDocument, { sessionId: 'nope', content: 'hi' });
    expect(unknown.data!.sendMessage).toMatchObject({ __typename: 'NotFound' });

    const second = await startChat(client);
    const third = await startChat(client);
    const page1 = member(
      (await client.request(ChatSessionsDocument, { first: 2 })).data!.chatSessions,
      'QueryChatSessionsConnection',
    );
    expect(page1.edges.map((e) => e.node.id)).toEqual([third, second]);
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const page2 = member(
      (await client.request(ChatSessionsDocument, { first: 2, after: page1.pageInfo.endCursor })).data!
        .chatSessions,
      'QueryChatSessionsConnection',
    );
    expect(page2.edges.map((e) => e.node.id)).toEqual([sessionId]);
    expect(page2.pageInfo.hasNextPage).toBe(false);
  });
});

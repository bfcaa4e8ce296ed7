import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatReplyJob } from '../src/jobs/chat-reply.job.ts';
import type { JobContext } from '../src/jobs/job.ts';
import { newMessageId } from '../src/services/chat/chat-records.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

// The chat-reply job called directly, as a worker would on a duplicate or re-delivered job.
describe('chat-reply job', () => {
  let app: TestApp;
  let model: OpenAIStandin;
  beforeAll(async () => {
    model = await startOpenAIStandin({ tokens: ['one', ' two', ' three'] });
    app = await startTestApp({ env: { CHAT_BASE_URL: model.url } });
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
  });

  const context = (jobId: string): JobContext => ({
    services: app.services,
    jobId,
    attempt: 1,
    maxAttempts: 3,
    signal: new AbortController().signal,
    log: app.services.log,
  });

  async function request() {
    const userId = app.newUserId();
    await app.services.orm.em.getConnection().execute('INSERT INTO users (id) VALUES (?)', [userId]);
    const session = await app.services.chats.startChat(userId, 'job test');
    const messageId = newMessageId(session.id);
    return {
      userId,
      sessionId: session.id,
      messageId,
      userMessage: {
        id: newMessageId(session.id),
        role: 'user' as const,
        content: 'Count to three',
        createTime: new Date().toISOString(),
      },
    };
  }

  it('publishes and stores a reply once, however often it is delivered', async () => {
    const payload = await request();
    const before = model.requests.length;
    await chatReplyJob.handle(payload, context(payload.messageId));
    await chatReplyJob.handle(payload, context(payload.messageId));
    expect(model.requests.length - before).toBe(1);
    const events = await app.services.events.history('reply', payload.messageId);
    // the first token at once, the two that follow within the delta window as one delta
    expect(events.map((e) => e.type)).toEqual(['citations', 'token', 'token', 'done']);
    expect(events.flatMap((e) => (e.type === 'token' ? [[e.text, e.index]] : []))).toEqual([
      ['one', 0],
      [' two three', 1],
    ]);
    const chat = await app.services.transcripts.read(payload.userId, payload.sessionId);
    expect(chat!.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Count to three'],
      ['assistant', 'one two three'],
    ]);
  });

  it('ends a reply cut short by a dead worker as failed instead of streaming it again', async () => {
    const payload = await request();
    const { events } = app.services;
    await events.publish('reply', payload.messageId, { type: 'citations', sources: [] });
    await events.publish('reply', payload.messageId, { type: 'token', text: 'partial', index: 0 });
    const before = model.requests.length;
    await chatReplyJob.handle(payload, context(payload.messageId));
    expect(model.requests.length).toBe(before);
    const after = await events.history('reply', payload.messageId);
    expect(after.map((e) => e.type)).toEqual(['citations', 'token', 'failed']);
    expect(after.at(-1)).toMatchObject({ error: 'the reply was interrupted' });
    const chat = await app.services.transcripts.read(payload.userId, payload.sessionId);
    expect(chat!.messages[1]).toMatchObject({ role: 'assistant', content: 'partial', status: 'failed' });
  });

  it('rejects a payload that is not a chat reply', () => {
    expect(chatReplyJob.payload.safeParse({ userId: 'u', sessionId: randomUUID() }).success).toBe(false);
  });
});

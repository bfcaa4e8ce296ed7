import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatSessionDocument, TwinReplyDocument } from '../src/sdk/generated/graphql.ts';
import { events, isTerminal, seedChunks, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';

describe('chat model backends and failures', () => {
  let app: TestApp | undefined;
  let model: OpenAIStandin | undefined;
  afterEach(async () => {
    await app?.close();
    await model?.close();
    app = undefined;
    model = undefined;
  });

  it('retries a model endpoint that is down, then reports ReplyFailed and keeps the question', async () => {
    model = await startOpenAIStandin({ failStatus: 503 });
    app = await startTestApp({ withWorkers: true, env: { CHAT_BASE_URL: model.url, JOB_BACKOFF_MS: '20' } });
    const client = app.client();
    const sessionId = await startChat(client);
    const sent = await sendMessage(client, sessionId, 'Are you there?');
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const list = events(await sub.until(isTerminal, 15_000));
    sub.close();
    expect(model.requests).toHaveLength(3);
    expect(tokensOf(list)).toEqual([]);
    expect(list.at(-1)).toMatchObject({
      __typename: 'ReplyFailed',
      error: 'the chat model failed (HTTP 503)',
    });
    const stored = await client.request(ChatSessionDocument, { id: sessionId });
    const session = stored.data!.chatSession;
    if (session.__typename !== 'ChatSession') throw new Error(session.__typename);
    expect(session.messages.map((m) => [m.role, m.status])).toEqual([
      ['USER', null],
      ['ASSISTANT', 'FAILED'],
    ]);
  });

  it('reports an unreachable model endpoint once its attempts are spent', async () => {
    const closed = await startOpenAIStandin();
    const url = closed.url;
    await closed.close();
    app = await startTestApp({ withWorkers: true, env: { CHAT_BASE_URL: url, JOB_BACKOFF_MS: '20' } });
    const client = app.client();
    const sent = await sendMessage(client, await startChat(client), 'Anyone home?');
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const list = events(await sub.until(isTerminal, 15_000));
    sub.close();
    expect(list.at(-1)).toMatchObject({ __typename: 'ReplyFailed', error: 'the chat model is unreachable' });
    // ReplyFailed is published before BullMQ records the last attempt: wait for the job to settle
    const queue = app.services.queue;
    await vi.waitFor(
      async () =>
        expect(await queue.get('chat', sent.assistantMessageId)).toMatchObject({
          state: 'failed',
          attemptsMade: 3,
        }),
      { timeout: 5000, interval: 50 },
    );
  });

  it('fails at once, without retrying, when the model rejects the request', async () => {
    model = await startOpenAIStandin({ failStatus: 401 });
    app = await startTestApp({ withWorkers: true, env: { CHAT_BASE_URL: model.url, JOB_BACKOFF_MS: '20' } });
    const client = app.client();
    const sent = await sendMessage(client, await startChat(client), 'Hello?');
    const sub = client.subscribeSse(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const list = events(await sub.until(isTerminal, 15_000));
    sub.close();
    expect(model.requests).toHaveLength(1);
    expect(list.at(-1)).toMatchObject({
      __typename: 'ReplyFailed',
      error: 'the chat model rejected the request (HTTP 401)',
    });
  });

  it('answers with the best passages, and says so, when no chat model is configured', async () => {
    app = await startTestApp({
      withWorkers: true,
      env: { CHAT_BACKEND: 'auto', CHAT_BASE_URL: '', CHAT_API_KEY: '', OPENAI_API_KEY: '' },
    });
    expect(app.services.chatModel.kind).toBe('extractive');
    const client = app.client();
    await seedChunks(app.services, client.userId, ['My first bicycle was a red Peugeot I rode around Lyon.']);
    const sent = await sendMessage(client, await startChat(client), 'What was my first bicycle?');
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const list = events(await sub.until(isTerminal));
    sub.close();
    const text = tokensOf(list)
      .map((t) => t.text)
      .join('');
    expect(text).toContain('No chat model is configured');
    expect(text).toContain('[1] My first bicycle was a red Peugeot I rode around Lyon.');
    expect(list.at(-1)).toMatchObject({
      __typename: 'ReplyDone',
      model: 'extractive-fallback',
      finishReason: 'stop',
    });
  });

  it('asks Modal for twin:{userId} whether or not the user has a trained model yet', async () => {
    // strict like modal/'s inference app: any other model name is a 404, and the reply would fail
    model = await startOpenAIStandin({ tokens: ['hi'], backend: 'modal', apiToken: 'modal-test-token' });
    app = await startTestApp({
      withWorkers: true,
      env: { CHAT_BACKEND: 'auto', MODAL_INFERENCE_URL: model.url, MODAL_TOKEN: 'modal-test-token' },
    });
    expect(app.services.chatModel.kind).toBe('modal');
    const trained = app.client();
    const untrained = app.client();
    await untrained.request(ChatSessionDocument, { id: randomUUID() }); // creates the user row
    await trained.request(ChatSessionDocument, { id: randomUUID() });
    await app.services.orm.em
      .getConnection()
      .execute("INSERT INTO training_jobs (id, user_id, status) VALUES (?, ?, 'completed')", [
        randomUUID(),
        trained.userId,
      ]);
    const endings = [];
    for (const client of [trained, untrained]) {
      const sent = await sendMessage(client, await startChat(client), 'Who are you?');
      const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
      endings.push(events(await sub.until(isTerminal)).at(-1));
      sub.close();
    }
    expect(model.requests.map((r) => r.body.model)).toEqual([
      `twin:${trained.userId}`,
      `twin:${untrained.userId}`,
    ]);
    expect(endings).toEqual([
      expect.objectContaining({ __typename: 'ReplyDone', model: `twin:${trained.userId}` }),
      expect.objectContaining({ __typename: 'ReplyDone', model: `twin:${untrained.userId}` }),
    ]);
    const [first] = model.requests;
    expect(first!.authorization).toBe('Bearer modal-test-token');
    expect(first!.body.stream).toBe(true);
    expect(first!.body.stream_options).toEqual({ include_usage: true });
  });
});

import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphiqlExamples } from '../src/http/graphiql-examples.ts';
import { CreateApiKeyDocument } from '../src/sdk/generated/graphql.ts';
import { removeUsers } from './helpers/cleanup.ts';
import type { TestClient } from './helpers/client.ts';
import type { TestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import type { ChatRequestBody, OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';

// The OpenAI-compatible door, driven by the `openai` npm client as any tool with a base URL would:
// the twin's model is the OpenAI stand-in, which answers from what the prompt holds, so a reply
// shows whether retrieval found the person's own document.

const promptOf = (body: ChatRequestBody) => body.messages.map((m) => m.content).join('\n');

// the stand-in answers with the fact only when retrieval put the passage in the prompt
const groundedTokens = (body: ChatRequestBody) => {
  const prompt = promptOf(body);
  if (prompt.includes('Biscuit')) return [' Your', ' dog', ' is', ' Biscuit', ' [1].'];
  if (prompt.includes('Douro')) return [' You', ' learned', ' to', ' sail', ' on', ' the', ' Douro', ' [1].'];
  return [' I', ' do', ' not', ' know.'];
};

interface WireCitation {
  index: number;
  document_id: string;
  chunk_index: number;
  text: string | null;
}

async function apiKeyOf(client: TestClient): Promise<string> {
  const res = await client.request(CreateApiKeyDocument, { name: 'openai client' });
  const out = res.data?.createApiKey;
  if (out?.__typename !== 'CreatedApiKey') throw new Error(JSON.stringify(res));
  return out.secret;
}

// not `u-…`: a concurrent vitest run's teardown removes every `u-` user created since it started
const users: string[] = [];
const newUser = () => {
  const id = `oai-${randomUUID()}`;
  users.push(id);
  return id;
};

describe('OpenAI-compatible endpoint', () => {
  let app: TestApp;
  let model: OpenAIStandin;
  let base: string;
  let alice: TestClient;
  let bob: TestClient;
  let aliceDoc: string;
  let bobDoc: string;
  let aliceKey: string;
  let openai: OpenAI;

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp({ tokens: groundedTokens, ttftMs: 5, interTokenMs: 5 }));
    base = app.url.replace(/\/graphql$/, '/v1');
    alice = app.client(newUser());
    bob = app.client(newUser());
    const [a, b] = await Promise.all([
      uploadDocument(
        alice,
        'sailing.md',
        '# Summers\n\nI grew up in Porto and learned to sail on the Douro river with my uncle.\n\n' +
          'Quarterly widget revenue was flat, the spreadsheet says.\n',
      ),
      uploadDocument(bob, 'dog.md', '# Pets\n\nMy dog is named Biscuit and he sleeps on the sofa all day.\n'),
    ]);
    aliceDoc = a.id;
    bobDoc = b.id;
    await Promise.all([settled(alice, aliceDoc), settled(bob, bobDoc)]);
    aliceKey = await apiKeyOf(alice);
    openai = new OpenAI({ baseURL: base, apiKey: aliceKey, maxRetries: 0 });
  });
  afterAll(async () => {
    if (app) await removeUsers(app.config, app.services.blobs, app.services.orm, users);
    await app?.close();
    await model?.close();
  });

  it('answers without streaming, grounded in the uploaded document, with its citations', async () => {
    const reply = await openai.chat.completions.create({
      model: 'twin',
      messages: [{ role: 'user', content: 'Where did I learn to sail?' }],
    });
    expect(reply.object).toBe('chat.completion');
    const choice = reply.choices[0]!;
    expect(choice.message.content).toBe(' You learned to sail on the Douro [1].');
    expect(choice.finish_reason).toBe('stop');
    const citations = (choice.message as unknown as { citations: WireCitation[] }).citations;
    expect(citations.length).toBeGreaterThan(0);
    expect(citations[0]!.document_id).toBe(aliceDoc);
    expect(citations.find((c) => c.text?.includes('Douro'))).toBeDefined();
    expect(reply.usage?.completion_tokens).toBe(8);
  });

  it('streams chat.completion.chunk events ending with [DONE], citations on the last chunk', async () => {
    const stream = await openai.chat.completions.create({
      model: `twin:${alice.userId}`,
      messages: [{ role: 'user', content: 'Where did I learn to sail on the river?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(' You learned to sail on the Douro [1].');
    // the reply comes as several deltas, not one block at the end
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    const last = chunks.findLast((c) => c.choices[0]?.finish_reason);
    expect(last?.choices[0]?.finish_reason).toBe('stop');
    const citations = (last as unknown as { citations: WireCitation[] }).citations;
    expect(citations.map((c) => c.document_id)).toContain(aliceDoc);
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(8);

    // the raw wire: SSE data lines, the last one [DONE]
    const res = await fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'twin', stream: true, messages: [{ role: 'user', content: 'Sail?' }] }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const lines = (await res.text()).split('\n').filter((l) => l.startsWith('data: '));
    expect(lines.at(-1)).toBe('data: [DONE]');
  });

  it('uses the earlier messages as the conversation history', async () => {
    const before = model.requests.length;
    await openai.chat.completions.create({
      model: 'twin',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: 'My cat is called Pimenta.' },
        { role: 'assistant', content: 'Noted: Pimenta.' },
        { role: 'user', content: 'What is my cat called?' },
      ],
    });
    const sent = model.requests.slice(before).map((r) => r.body.messages);
    const turns = sent.at(-1)!;
    expect(turns.some((m) => m.role === 'user' && m.content.includes('Pimenta'))).toBe(true);
    expect(turns.some((m) => m.role === 'assistant' && m.content === 'Noted: Pimenta.')).toBe(true);
    expect(turns.at(-1)!.content).toContain('What is my cat called?');
  });

  it("lists the models the caller may use; another user's twin is not one of them", async () => {
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids.sort()).toEqual(['twin', `twin:${alice.userId}`].sort());
    const err = await openai.chat.completions
      .create({ model: 'twin:someone-else', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('refuses a wrong key with 401 in OpenAI\u2019s error shape', async () => {
    const wrong = new OpenAI({ baseURL: base, apiKey: 'not-a-key', maxRetries: 0 });
    const err = await wrong.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const res = await fetch(`${base}/chat/completions`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.code).toBe('invalid_api_key');
    expect(body.error.message).toMatch(/Authorization/);
  });

  it("cannot reach another tenant's memory", async () => {
    const question = {
      role: 'user' as const,
      content: 'What is my dog named, the one who sleeps on the sofa?',
    };
    const before = model.requests.length;
    const reply = await openai.chat.completions.create({ model: 'twin', messages: [question] });
    const citations = (reply.choices[0]!.message as unknown as { citations: WireCitation[] }).citations;
    expect(citations.map((c) => c.document_id)).not.toContain(bobDoc);
    expect(reply.choices[0]!.message.content).not.toContain('Biscuit');
    expect(model.requests.length).toBe(before + 1);
    expect(promptOf(model.requests.at(-1)!.body)).not.toContain('Biscuit');
    // the same question with Bob's key finds Bob's document: the check above can fail
    const asBob = new OpenAI({ baseURL: base, apiKey: await apiKeyOf(bob), maxRetries: 0 });
    const his = await asBob.chat.completions.create({ model: 'twin', messages: [question] });
    expect(his.choices[0]!.message.content).toBe(' Your dog is Biscuit [1].');
    const hisCitations = (his.choices[0]!.message as unknown as { citations: WireCitation[] }).citations;
    expect(hisCitations.map((c) => c.document_id)).toContain(bobDoc);
    // and Alice cannot name Bob's twin
    const named = await openai.chat.completions
      .create({ model: `twin:${bob.userId}`, messages: [question] })
      .catch((e: unknown) => e);
    expect(named).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('answers a bad body with 400', async () => {
    const empty = await openai.chat.completions
      .create({ model: 'twin', messages: [] })
      .catch((e: unknown) => e);
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    const noQuestion = await openai.chat.completions
      .create({ model: 'twin', messages: [{ role: 'assistant', content: 'hello' }] })
      .catch((e: unknown) => e);
    expect(noQuestion).toBeInstanceOf(OpenAI.BadRequestError);
    const res = await fetch(`${base}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey}`, 'content-type': 'application/json' },
      body: '{"model": "twin", "messages": [',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('stops the reply upstream when the client goes away mid-stream', async () => {
    const slow = Array.from({ length: 400 }, (_, i) => ` w${i}`);
    model.script = { tokens: slow, ttftMs: 5, interTokenMs: 10 };
    try {
      const before = model.requests.length;
      const controller = new AbortController();
      const stream = await openai.chat.completions.create(
        { model: 'twin', stream: true, messages: [{ role: 'user', content: 'Tell me everything.' }] },
        { signal: controller.signal },
      );
      let text = '';
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (text.includes(' w3')) {
          controller.abort();
          break;
        }
      }
      expect(text.startsWith(' w0 w1 w2 w3')).toBe(true);
      const [request] = (await model.waitForRequests(before + 1)).slice(before);
      // the model request is cancelled well before its 400 tokens are out
      const deadline = Date.now() + 10_000;
      while (!request!.aborted && !request!.finished && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(request!.aborted).toBe(true);
      expect(request!.tokensSent).toBeLessThan(slow.length);
    } finally {
      model.script = { tokens: groundedTokens, ttftMs: 5, interTokenMs: 5 };
    }
  });

  it('answers a spent reply quota with 429 and retry-after, as sendMessage would refuse it', async () => {
    const carol = app.client(newUser());
    const asCarol = new OpenAI({ baseURL: base, apiKey: await apiKeyOf(carol), maxRetries: 0 });
    // the same per-user quota a chat reply spends (RATE_LIMIT_REPLIES a window)
    await app.services.rateLimits.consume(carol.userId, 'reply', app.config.RATE_LIMIT_REPLIES);
    const before = model.requests.length;
    const err = await asCarol.chat.completions
      .create({ model: 'twin', messages: [{ role: 'user', content: 'hello?' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const limited = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(limited.code).toBe('rate_limit_exceeded');
    expect(Number(limited.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(model.requests.length).toBe(before);
  });

  it('opens GraphiQL with an example tab per area and the token hint in the header editor', async () => {
    const page = await (await fetch(app.url, { headers: { accept: 'text/html' } })).text();
    // embedded as JSON in the page's script: each tab exactly as written
    const embedded = (text: string) => JSON.stringify(text).slice(1, -1);
    const { defaultTabs, defaultHeaders } = graphiqlExamples({ anonymous: false });
    expect(defaultTabs).toHaveLength(6);
    for (const tab of defaultTabs) expect(page).toContain(embedded(tab.query));
    for (const op of [
      'mutation StartChat',
      'subscription TwinReply(',
      'query Search(',
      'query Memory',
      'mutation StartTraining',
      'mutation CreateApiKey',
    ])
      expect(page).toContain(op);
    expect(page).toContain(embedded(defaultHeaders));
    expect(defaultHeaders).toContain('"Authorization": "Bearer <token>"');
  });
});

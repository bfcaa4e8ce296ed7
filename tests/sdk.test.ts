import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AskEvent,
  createTwinClient,
  MeDocument,
  StartChatDocument,
  type TwinClient,
  TwinReplyDocument,
  TwinRequestError,
} from '../src/sdk/index.ts';
import { deltaSizes } from './helpers/chat.ts';
import type { TestApp } from './helpers/harness.ts';
import { corruptPdf } from './helpers/ingest-fixtures.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';

// The SDK against the real server and workers, through a proxy the tests can cut: typed requests,
// uploads followed to their end, replies streamed as deltas that survive a dropped connection.

const TOKENS = ['You', ...Array.from({ length: 23 }, (_, i) => ` sail${i + 1}`)];
const NOTES = 'I sail on the lake every Sunday morning. Sailing in the wind calms me and I love the lake.';

describe('the SDK', () => {
  let app: TestApp;
  let model: OpenAIStandin;
  let proxy: TcpProxy;
  const clients: TwinClient[] = [];
  const clientFor = (userId: string, url = proxy.url) => {
    const client = createTwinClient({ url, token: app.tokenFor(userId), reconnect: { baseDelayMs: 50 } });
    clients.push(client);
    return client;
  };
  const startChat = async (client: TwinClient) => (await client.request(StartChatDocument, {})).startChat.id;
  const collect = async (events: AsyncIterable<AskEvent>, onDelta?: (n: number) => void) => {
    const out: AskEvent[] = [];
    for await (const event of events) {
      out.push(event);
      if (event.type === 'delta') onDelta?.(out.filter((e) => e.type === 'delta').length);
    }
    return out;
  };
  const replyOf = (events: AskEvent[]) =>
    events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join('');
  const doneOf = (events: AskEvent[]) => {
    const done = events.at(-1);
    if (done?.type !== 'done') throw new Error(`the reply did not end: ${JSON.stringify(done)}`);
    return done;
  };

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp(
      { tokens: TOKENS, ttftMs: 100, interTokenMs: 60 },
      { MEMORY_LLM: 'off' },
    ));
    proxy = await startTcpProxy(app.url);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await proxy?.close();
    await app?.close();
    await model?.close();
  });

  it('types requests by their document and throws GraphQL errors as TwinRequestError', async () => {
    const userId = app.newUserId();
    const me = await clientFor(userId).request(MeDocument);
    expect(me.me.id).toBe(userId);
    const stranger = createTwinClient({ url: app.url, apiKey: 'dt_not-a-real-key-000000000000' });
    clients.push(stranger);
    const error = await stranger.request(MeDocument).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TwinRequestError);
    expect((error as TwinRequestError).code).toBe('UNAUTHENTICATED');
  });

  it('uploads a good and a corrupt file and resolves with each one’s end and the reason it failed', async () => {
    const client = clientFor(app.newUserId());
    const progress: string[] = [];
    const results = await client.uploadFiles(
      [
        { name: 'sailing.md', data: NOTES },
        { name: 'broken.pdf', data: corruptPdf() },
        { name: 'empty.txt', data: '' },
      ],
      { onProgress: (p) => progress.push(`${p.filename}:${p.stage}`) },
    );
    expect(results.map((r) => [r.filename, r.status])).toEqual([
      ['sailing.md', 'PROCESSED'],
      ['broken.pdf', 'FAILED'],
      ['empty.txt', 'REFUSED'],
    ]);
    expect(results[0]!.document!.chunkCount).toBeGreaterThan(0);
    expect(results[1]!.reason).toMatch(/pdf/i);
    expect(results[2]!.code).toBeTruthy();
    expect(progress).toContain('sailing.md:DONE');
    expect(progress).toContain('broken.pdf:FAILED');
  });

  it('streams a reply as deltas, then its citations and the stored message', async () => {
    const client = clientFor(app.newUserId());
    const [uploaded] = await client.uploadFiles([{ name: 'sailing.md', data: NOTES }]);
    expect(uploaded!.status).toBe('PROCESSED');
    const events = await collect(client.ask(await startChat(client), 'When do I sail on the lake?'));
    expect(events[0]!.type).toBe('started');
    const types = events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]);
    expect(types).toEqual(['started', 'delta', 'citations', 'done']);
    const citations = events.find((e) => e.type === 'citations');
    if (citations?.type !== 'citations') throw new Error('no citations');
    expect(citations.citations.map((c) => c.documentId)).toContain(uploaded!.document!.id);
    expect(replyOf(events)).toBe(TOKENS.join(''));
    expect(doneOf(events).message.content).toBe(replyOf(events));
  });

  it('reconnects when the server side of the WebSocket drops mid-reply and loses no token', async () => {
    const client = clientFor(app.newUserId());
    const upgradesBefore = proxy.upgrades;
    let dropped = 0;
    const events = await collect(client.ask(await startChat(client), 'Tell me about sailing'), (n) => {
      // twice: after the first delta and once more later in the reply
      if ((n === 1 || n === 4) && proxy.dropWebSockets() > 0) dropped += 1;
    });
    expect(dropped).toBe(2);
    expect(proxy.upgrades - upgradesBefore).toBeGreaterThanOrEqual(3);
    const done = doneOf(events);
    expect(replyOf(events)).toBe(done.message.content);
    expect(Buffer.from(replyOf(events))).toEqual(Buffer.from(TOKENS.join('')));
    // each delta starts where the one before ended: nothing repeated, nothing skipped
    const deltas = events.flatMap((e) => (e.type === 'delta' ? [e] : []));
    expect(deltas[0]!.index).toBe(0);
    expect(deltaSizes(TOKENS, deltas).reduce((a, b) => a + b, 0)).toBe(TOKENS.length);
  });

  it('falls back to SSE when the WebSocket cannot connect, and resumes the event stream too', async () => {
    const sseOnly = await startTcpProxy(app.url);
    sseOnly.refuseUpgrades = true;
    try {
      const client = clientFor(app.newUserId(), sseOnly.url);
      let dropped = 0;
      const events = await collect(client.ask(await startChat(client), 'Tell me about the lake'), (n) => {
        if (n === 2 && sseOnly.dropAll() > 0) dropped += 1;
      });
      expect(sseOnly.refused).toBeGreaterThanOrEqual(1);
      expect(client.transport).toBe('sse');
      expect(dropped).toBe(1);
      expect(replyOf(events)).toBe(doneOf(events).message.content);
      expect(replyOf(events)).toBe(TOKENS.join(''));
    } finally {
      await sseOnly.close();
    }
  });

  it('cancels the reply on the server when the caller aborts', async () => {
    const client = clientFor(app.newUserId());
    const abort = new AbortController();
    const events = await collect(
      client.ask(await startChat(client), 'Go on', { signal: abort.signal }),
      (n) => {
        if (n === 1) abort.abort();
      },
    );
    expect(events.map((e) => e.type)).toEqual(['started', 'delta']);
    // cancelReply aborts the model's stream before it has sent every token
    const request = () => model.requests.find((r) => r.body.messages.at(-1)?.content.includes('Go on'));
    for (let i = 0; !request()?.aborted; i++) {
      if (i > 200) throw new Error(`the model request was not aborted: ${JSON.stringify(request())}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(request()!.tokensSent).toBeLessThan(TOKENS.length);
  });

  it('refuses another tenant’s session and reply, as typed results', async () => {
    const alice = clientFor(app.newUserId());
    const bob = clientFor(app.newUserId());
    const aliceSession = await startChat(alice);
    const refused = await collect(bob.ask(aliceSession, 'What does Alice think?'));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ type: 'refused', result: { __typename: 'NotFound' } });

    const asked = alice.ask(aliceSession, 'Hello')[Symbol.asyncIterator]();
    const started = (await asked.next()).value as AskEvent;
    if (started.type !== 'started') throw new Error(started.type);
    for await (const event of bob.subscribe(TwinReplyDocument, { messageId: started.messageId })) {
      expect(event.twinReply.__typename).toBe('NotFound');
      break;
    }
    await collect({ [Symbol.asyncIterator]: () => asked });
  });

  it('returns a refused training start as its typed result', async () => {
    // this server has no trainer configured: the refusal comes back as data, not as a throw
    const result = await clientFor(app.newUserId()).train();
    expect(result).toMatchObject({ __typename: 'TrainerUnavailable', code: expect.any(String) });
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TwinReplyDocument } from '../src/sdk/generated/graphql.ts';
import type { ChatRecord } from '../src/services/chat/chat-records.ts';
import { deltaSizes, events, isTerminal, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import type { TestApp } from './helpers/harness.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';

// Reply tokens go out as deltas coalesced over a window (DESIGN §7), and an exchange is one object
// write (DESIGN §4). What a client reassembles from the deltas is the stored reply, byte for byte,
// characters split across tokens included (an emoji's two UTF-16 halves in two tokens, as a
// byte-level model can emit them), from the start or resumed with `afterSeq` mid-stream.

const PIECES = [' café', ' \ud83d', '\ude00', ' 日本', '語', ' naïve', ' \ud83c', '\udf89', ' ok'];
const TOKENS = Array.from({ length: 90 }, (_, i) => `${PIECES[i % PIECES.length]}${i % 9 === 8 ? i : ''}`);
const WINDOW_MS = 30;

const endsInsideCharacter = (text: string) => {
  const code = text.charCodeAt(text.length - 1);
  return code >= 0xd800 && code <= 0xdbff;
};

describe('coalesced reply deltas', () => {
  let app: TestApp;
  let model: OpenAIStandin;

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp(
      { tokens: TOKENS, ttftMs: 10, interTokenMs: 3 },
      { REPLY_DELTA_WINDOW_MS: String(WINDOW_MS) },
    ));
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
  });

  const storedReply = async (userId: string, sessionId: string, messageId: string) => {
    const body = await app.services.blobs.get(userId, `chats/${sessionId}/messages.json`);
    const chat = JSON.parse(body.toString('utf8')) as ChatRecord;
    return chat.messages.find((m) => m.id === messageId)!.content;
  };

  it('reassembles the stored reply byte for byte over WS and SSE, and resumes mid-stream with exactly the missing deltas', async () => {
    const client = app.client();
    const sessionId = await startChat(client, 'Deltas');
    const { assistantMessageId: messageId } = await sendMessage(client, sessionId, 'Say it in pieces');

    // one client leaves after a few deltas and comes back over SSE; two others read it all
    const leaving = client.subscribeWs(TwinReplyDocument, { messageId });
    const ws = client.subscribeWs(TwinReplyDocument, { messageId });
    const sse = client.subscribeSse(TwinReplyDocument, { messageId });
    const before = events(
      await leaving.until(
        (r) => r.data?.twinReply.__typename === 'ReplyToken' && r.data.twinReply.index >= 10,
      ),
    );
    leaving.close();
    const lastSeq = Math.max(...before.map((e) => ('seq' in e ? e.seq : 0)));
    const resumed = client.subscribeSse(TwinReplyDocument, { messageId, afterSeq: lastSeq });
    const after = events(await resumed.until(isTerminal, 15_000));
    resumed.close();
    const whole = [events(await ws.until(isTerminal, 15_000)), events(await sse.until(isTerminal, 15_000))];
    ws.close();
    sse.close();

    const stored = await storedReply(client.userId, sessionId, messageId);
    expect(Buffer.from(stored, 'utf8').equals(Buffer.from(TOKENS.join(''), 'utf8'))).toBe(true);
    for (const list of whole) {
      const deltas = tokensOf(list);
      const text = deltas.map((d) => d.text).join('');
      expect(Buffer.from(text, 'utf8').equals(Buffer.from(stored, 'utf8'))).toBe(true);
      // coalesced: fewer deltas than tokens, each the next whole tokens, index that of its first
      const sizes = deltaSizes(TOKENS, deltas);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(TOKENS.length);
      expect(deltas.length).toBeLessThan(TOKENS.length / 2);
      expect(deltas[0]!.index).toBe(0);
      expect(deltas.some((d) => endsInsideCharacter(d.text))).toBe(false);
      // one seq per event, in order, none skipped
      expect(list.map((e) => ('seq' in e ? e.seq : -1))).toEqual(list.map((_, i) => i + 1));
      expect(list.at(-1)).toMatchObject({ __typename: 'ReplyDone', finishReason: 'stop' });
    }

    // the resumed client got exactly the deltas it had not seen: together, the live stream's events
    const live = whole[0]!;
    expect([...before, ...after]).toEqual(live);
    expect(after[0]).toMatchObject({ seq: lastSeq + 1 });
    expect(tokensOf(before).length).toBeGreaterThan(0);
    expect(tokensOf(after).length).toBeGreaterThan(0);
    const rejoined = [...tokensOf(before), ...tokensOf(after)].map((d) => d.text).join('');
    expect(Buffer.from(rejoined, 'utf8').equals(Buffer.from(stored, 'utf8'))).toBe(true);
  });

  it('writes one transcript object per exchange', async () => {
    model.script = { tokens: TOKENS.slice(0, 20), ttftMs: 5, interTokenMs: 1 };
    const client = app.client();
    const sessionId = await startChat(client);
    // the real blob store, counted: every object written under this session from here on
    const put = vi.spyOn(app.services.blobs, 'put');
    const writes = () =>
      put.mock.calls.filter(
        ([userId, key]) => userId === client.userId && key.startsWith(`chats/${sessionId}/`),
      );
    try {
      for (let n = 1; n <= 3; n++) {
        const { assistantMessageId: messageId } = await sendMessage(client, sessionId, `Question ${n}`);
        const sub = client.subscribeWs(TwinReplyDocument, { messageId });
        const list = events(await sub.until(isTerminal, 15_000));
        sub.close();
        expect(list.at(-1)!.__typename).toBe('ReplyDone');
        // the transcript is stored before the end is announced
        expect(writes().map(([, key]) => key)).toEqual(
          Array.from({ length: n }, () => `chats/${sessionId}/messages.json`),
        );
        const stored = await storedReply(client.userId, sessionId, messageId);
        expect(
          tokensOf(list)
            .map((d) => d.text)
            .join(''),
        ).toBe(stored);
      }
    } finally {
      put.mockRestore();
    }
    const body = await app.services.blobs.get(client.userId, `chats/${sessionId}/messages.json`);
    const chat = JSON.parse(body.toString('utf8')) as ChatRecord;
    expect(chat.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
  });
});

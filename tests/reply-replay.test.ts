import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinReplyDocument } from '../src/sdk/generated/graphql.ts';
import { RedisEventBus } from '../src/services/adapters/redis/event-bus.redis.ts';
import { events, isTerminal, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import type { TestApp } from './helpers/harness.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';

// A reply's events outlive neither their TTL nor their numbering: once they expire the stored reply
// is replayed under the seqs the live one had, so a resume continues where it left off or is told
// it cannot (DESIGN §7). The replay log here lives one second.

const TOKENS = Array.from({ length: 12 }, (_, i) => ` word${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replies after their events expire', () => {
  let app: TestApp;
  let model: OpenAIStandin;

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp(
      { tokens: TOKENS, ttftMs: 0 },
      { EVENT_REPLAY_TTL_SEC: '1' },
    ));
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
  });

  it('replays the stored reply under its own seqs: a resume gets what follows, or is told it cannot', async () => {
    const client = app.client();
    const sessionId = await startChat(client);
    const { assistantMessageId: messageId } = await sendMessage(client, sessionId, 'Say something');
    const live = client.subscribeWs(TwinReplyDocument, { messageId });
    const streamed = events(await live.until(isTerminal, 15_000));
    live.close();
    const last = streamed.at(-1)!;
    if (last.__typename !== 'ReplyDone') throw new Error(last.__typename);
    // citations, the deltas (several tokens each, coalesced), the end
    expect(last.seq).toBe(tokensOf(streamed).length + 2);
    expect(tokensOf(streamed).length).toBeGreaterThanOrEqual(2);
    for (let i = 0; (await app.services.events.history('reply', messageId, 0)).length > 0; i++) {
      if (i > 100) throw new Error('the reply’s events never expired');
      await sleep(100);
    }

    const replay = (afterSeq?: number) =>
      client.subscribeSse(
        TwinReplyDocument,
        afterSeq === undefined ? { messageId } : { messageId, afterSeq },
      );

    // from the start: the whole text as one token, numbered as the last token was
    const whole = events(await replay().until(isTerminal));
    expect(whole.map((e) => [e.__typename, 'seq' in e ? e.seq : null])).toEqual([
      ['ReplyCitations', 1],
      ['ReplyToken', last.seq - 1],
      ['ReplyDone', last.seq],
    ]);
    expect(tokensOf(whole)[0]!.text).toBe(TOKENS.join(''));

    // a client that saw every token gets the end; one that saw only the citations gets the text
    const end = events(await replay(last.seq - 1).until(isTerminal));
    expect(end).toMatchObject([{ __typename: 'ReplyDone', seq: last.seq, finishReason: 'stop' }]);
    const afterCitations = events(await replay(1).until(isTerminal));
    expect(afterCitations.map((e) => e.__typename)).toEqual(['ReplyToken', 'ReplyDone']);

    // a client that saw it all gets nothing more, and the subscription completes
    const nothing = replay(last.seq);
    await expect(nothing.next(3000)).rejects.toThrow(/completed/);

    // a client that saw some of the tokens cannot be given the rest: it is told so
    const gap = replay(2);
    const told = events(await gap.take(1));
    expect(told).toMatchObject([
      { __typename: 'ReplayGap', code: 'REPLAY_GAP', afterSeq: 2, oldestSeq: last.seq - 1 },
    ]);
    await expect(gap.next(3000)).rejects.toThrow(/completed/);
  });

  it('a subscriber that leaves before the first token releases its listener at once', async () => {
    model.script = { tokens: TOKENS, ttftMs: 3000 };
    const client = app.client();
    const sessionId = await startChat(client);
    const { assistantMessageId: messageId } = await sendMessage(client, sessionId, 'Take your time');
    const redis = new Redis(app.config.REDIS_URL);
    const subscribed = async () => {
      const counts = await redis.pubsub('NUMSUB', `${app.config.EVENT_PREFIX}:evt:reply:${messageId}`);
      return Number(counts[1]);
    };
    const subs = Array.from({ length: 20 }, () => client.subscribeWs(TwinReplyDocument, { messageId }));
    for (let i = 0; (await subscribed()) === 0; i++) {
      if (i > 200) throw new Error('never subscribed');
      await sleep(10);
    }
    await sleep(300); // the rest of them, on the same socket
    for (const s of subs) s.close();
    // well before the reply's first event, the only thing that could release them otherwise
    for (let i = 0; (await subscribed()) > 0; i++) {
      if (i > 50) throw new Error('the reply’s channel is still subscribed');
      await sleep(10);
    }
    expect(app.services.events).toBeInstanceOf(RedisEventBus);
    expect((app.services.events as RedisEventBus).listenerCount()).toBe(0);
    redis.disconnect();
    client.dispose();
  });
});

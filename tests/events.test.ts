import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestProgressDocument } from '../src/sdk/generated/graphql.ts';
import { RedisEventBus } from '../src/services/adapters/redis/event-bus.redis.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';

const run = promisify(execFile);
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

async function publishFromAnotherProcess(
  userId: string,
  documentId: string,
  count: number,
  env: Record<string, string> = {},
) {
  const { stdout } = await run(
    process.execPath,
    ['tests/fixtures/publish-events.ts', userId, documentId, String(count)],
    {
      env: {
        ...process.env,
        EVENT_PREFIX: app.config.EVENT_PREFIX,
        REDIS_URL: app.config.REDIS_URL,
        ...env,
      },
    },
  );
  const out = JSON.parse(stdout) as { pid: number; seqs: number[] };
  expect(out.pid).not.toBe(process.pid);
  return out.seqs;
}

describe('real-time events through Redis', () => {
  for (const transport of ['subscribeWs', 'subscribeSse'] as const) {
    it(`${transport}: receives events another process published, in order`, async () => {
      const client = app.client();
      const sub = client[transport](IngestProgressDocument, { documentId: 'doc-1', afterSeq: 0 });
      const seqs = await publishFromAnotherProcess(client.userId, 'doc-1', 3);
      const events = await sub.take(3);
      sub.close();
      expect(events.map((e) => e.errors)).toEqual([undefined, undefined, undefined]);
      expect(events.map((e) => e.data?.ingestProgress.seq)).toEqual(seqs);
      expect(events.map((e) => e.data?.ingestProgress.done)).toEqual([1, 2, 3]);
      expect(events.at(-1)?.data?.ingestProgress.stage).toBe('DONE');
    });
  }

  it('a client reconnecting with afterSeq gets exactly the events it missed, once', async () => {
    const client = app.client();
    const first = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    await publishFromAnotherProcess(client.userId, 'doc-2', 2);
    const seen = await first.take(2);
    first.close();
    const lastSeq = seen.at(-1)!.data!.ingestProgress.seq;

    // while disconnected, three more events happen
    const missed = await publishFromAnotherProcess(client.userId, 'doc-2', 3);
    const again = client.subscribeSse(IngestProgressDocument, { afterSeq: lastSeq });
    const replayed = await again.take(3);
    expect(replayed.map((e) => e.data?.ingestProgress.seq)).toEqual(missed);

    // live events continue after the replay, and nothing is delivered twice
    const live = await publishFromAnotherProcess(client.userId, 'doc-2', 1);
    const next = await again.next();
    expect(next.data?.ingestProgress.seq).toBe(live[0]);
    await new Promise((r) => setTimeout(r, 200));
    expect(again.received).toHaveLength(4);
    again.close();
  });

  it('numbers the events of many topics published in one turn per topic, in call order', async () => {
    const users = [app.newUserId(), app.newUserId()];
    // published without awaiting in between: they go out together, as one script call
    const pending = Array.from({ length: 6 }, (_, i) =>
      app.services.events.publish('ingest', users[i % 2]!, {
        documentId: `doc-${i}`,
        stage: 'QUEUED',
        done: i,
        total: 0,
        attempt: 0,
        error: null,
      }),
    );
    expect(await Promise.all(pending)).toEqual([1, 1, 2, 2, 3, 3]);
    for (const [u, user] of users.entries()) {
      const kept = await app.services.events.history('ingest', user!, 0);
      expect(kept.map((e) => [e.seq, e.done])).toEqual([
        [1, u],
        [2, u + 2],
        [3, u + 4],
      ]);
    }
  });

  it('a client resuming from events no longer retained is told so, and then where to resume', async () => {
    const client = app.client();
    // published with a one-second replay log, which then expires
    await publishFromAnotherProcess(client.userId, 'doc-3', 3, { EVENT_REPLAY_TTL_SEC: '1' });
    for (let i = 0; (await app.services.events.history('ingest', client.userId)).length > 0; i++) {
      if (i > 100) throw new Error('the replay log never expired');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const transport of ['subscribeWs', 'subscribeSse'] as const) {
      const sub = client[transport](IngestProgressDocument, { afterSeq: 1 });
      const [told] = await sub.take(1);
      expect(told?.data).toBeNull();
      expect(told?.errors).toMatchObject([{ extensions: { code: 'REPLAY_GAP', afterSeq: 1, oldestSeq: 4 } }]);
      await expect(sub.next(2000)).rejects.toThrow(/completed/);
    }
    // from the oldest seq on, numbering simply continues
    const again = client.subscribeSse(IngestProgressDocument, { afterSeq: 3 });
    const [seq] = await publishFromAnotherProcess(client.userId, 'doc-3', 1);
    expect(seq).toBe(4);
    expect((await again.next()).data?.ingestProgress.seq).toBe(4);
    again.close();
  });

  it('one user never receives another user’s events', async () => {
    const alice = app.client();
    const bob = app.client();
    const bobSub = bob.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    await publishFromAnotherProcess(alice.userId, 'doc-a', 2);
    const bobSeqs = await publishFromAnotherProcess(bob.userId, 'doc-b', 1);
    const got = await bobSub.next();
    expect(got.data?.ingestProgress.documentId).toBe('doc-b');
    expect(got.data?.ingestProgress.seq).toBe(bobSeqs[0]);
    await new Promise((r) => setTimeout(r, 200));
    expect(bobSub.received).toHaveLength(1);
    bobSub.close();
  });

  it('clients that go away release their listeners at once, over WebSocket and SSE', async () => {
    const redis = new Redis(app.config.REDIS_URL);
    const channels = async () => (await redis.pubsub('CHANNELS', `${app.config.EVENT_PREFIX}:*`)).length;
    const before = await channels();
    // one user per subscription, so Redis counts each as a channel of its own
    const ws = Array.from({ length: 40 }, () => app.client());
    const sse = Array.from({ length: 40 }, () => app.client());
    const subs = [
      ...ws.map((c) => c.subscribeWs(IngestProgressDocument, {})),
      ...sse.map((c) => c.subscribeSse(IngestProgressDocument, {})),
    ];
    const waitFor = async (what: string, count: number, ms: number) => {
      const deadline = Date.now() + ms;
      while ((await channels()) !== count) {
        if (Date.now() > deadline) throw new Error(`${what}: ${(await channels()) - before} channels left`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await waitFor('subscribing', before + subs.length, 10_000);
      // half the WebSocket clients complete their subscription, the other half drop the socket
      for (const [i, c] of ws.entries()) {
        if (i % 2) c.dispose();
        else subs[i]!.close();
      }
      for (const s of subs.slice(ws.length)) s.close();
      // nothing is published on these topics: only the disconnects can release the listeners
      await waitFor('releasing', before, 2000);
      expect(app.services.events).toBeInstanceOf(RedisEventBus);
      expect((app.services.events as RedisEventBus).listenerCount()).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus } from '../src/services/adapters/redis/event-bus.redis.ts';
import { ReplayGapError } from '../src/services/ports/event-bus.ts';
import type { IngestProgressEvent } from '../src/services/ports/events.ts';
import { testConfig } from './helpers/harness.ts';

// The Redis event bus on its own (DESIGN §7): a per-topic seq that never restarts, resumes that are
// told when what they ask for is gone, and listeners released the moment a subscriber leaves.

const config = testConfig();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let redis: Redis;
const buses: RedisEventBus[] = [];

function newBus(options: { replayTtlSec?: number; replayMax?: number } = {}) {
  const bus = new RedisEventBus({
    redisUrl: config.REDIS_URL,
    prefix: `t${randomUUID().slice(0, 8)}`,
    replayTtlSec: options.replayTtlSec ?? 600,
    replayMax: options.replayMax ?? 5000,
  });
  buses.push(bus);
  return bus;
}

const progress = (done: number): IngestProgressEvent => ({
  documentId: 'doc',
  stage: 'EMBEDDING',
  done,
  total: 0,
  attempt: 1,
  error: null,
});

/** The iterator's next result, or `timeout` when none comes in time. */
async function nextWithin<T>(iterator: AsyncIterator<T>, ms = 2000) {
  return Promise.race([iterator.next(), sleep(ms).then(() => 'timeout' as const)]);
}

/** Waits until the topic's replay log has expired: nothing is retained any more. */
async function untilExpired(bus: RedisEventBus, scope: string) {
  for (let i = 0; (await bus.history('ingest', scope, 0)).length > 0; i++) {
    if (i > 100) throw new Error('the replay log never expired');
    await sleep(100);
  }
}

/** The Redis channels this bus's process is subscribed to, counted by Redis itself. */
async function channelsOf(bus: RedisEventBus) {
  const prefix = (bus as unknown as { options: { prefix: string } }).options.prefix;
  return (await redis.pubsub('CHANNELS', `${prefix}:*`)).length;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(() => {
  redis = new Redis(config.REDIS_URL);
});
afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  redis?.disconnect();
});

describe('sequence numbers', () => {
  it('continue after a topic’s replay log expires: live subscribers and resumes lose nothing', async () => {
    const bus = newBus({ replayTtlSec: 1 });
    const user = randomUUID();
    const seqs = [];
    for (let i = 1; i <= 3; i++) seqs.push(await bus.publish('ingest', user, progress(i)));
    expect(seqs).toEqual([1, 2, 3]);
    const live = bus.subscribe('ingest', user, { afterSeq: 3 });
    const firstLive = live.next();
    await untilExpired(bus, user);

    expect(await bus.publish('ingest', user, progress(4))).toBe(4);
    expect((await firstLive).value).toMatchObject({ seq: 4, done: 4 });
    const resumed = bus.subscribe('ingest', user, { afterSeq: 3 });
    expect(await nextWithin(resumed)).toMatchObject({ value: { seq: 4, done: 4 } });
    await Promise.all([live.return?.(), resumed.return?.()]);
  });

  it('a resume older than what is retained is told so, with the oldest seq still retained', async () => {
    const bus = newBus({ replayTtlSec: 1 });
    const user = randomUUID();
    for (let i = 1; i <= 3; i++) await bus.publish('ingest', user, progress(i));
    await untilExpired(bus, user);

    // nothing retained at all: the client saw 1 of 3
    const expired = bus.subscribe('ingest', user, { afterSeq: 1 });
    const gap = await nextWithin(expired).catch((error: unknown) => error);
    expect(gap).toBeInstanceOf(ReplayGapError);
    expect(gap).toMatchObject({ code: 'REPLAY_GAP', afterSeq: 1, oldestSeq: 4 });

    await bus.publish('ingest', user, progress(4));
    const partly = bus.subscribe('ingest', user, { afterSeq: 2 });
    await expect(nextWithin(partly)).rejects.toMatchObject({ afterSeq: 2, oldestSeq: 4 });
    // a client that saw everything retained before the expiry misses nothing
    const upToDate = bus.subscribe('ingest', user, { afterSeq: 3 });
    expect(await nextWithin(upToDate)).toMatchObject({ value: { seq: 4 } });
    await upToDate.return?.();
  });

  it('a resume whose events were trimmed by length is told so', async () => {
    const bus = newBus({ replayMax: 10 });
    const user = randomUUID();
    await Promise.all(Array.from({ length: 250 }, (_, i) => bus.publish('ingest', user, progress(i))));
    const kept = await bus.history('ingest', user, 0);
    expect(kept.length).toBeGreaterThanOrEqual(10);
    expect(kept.length).toBeLessThan(250);
    const oldest = kept[0]!.seq;
    expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: kept.length }, (_, i) => oldest + i));

    await expect(nextWithin(bus.subscribe('ingest', user, { afterSeq: 0 }))).rejects.toMatchObject({
      afterSeq: 0,
      oldestSeq: oldest,
    });
    const fromOldest = bus.subscribe('ingest', user, { afterSeq: oldest - 1 });
    expect(await nextWithin(fromOldest)).toMatchObject({ value: { seq: oldest } });
    await fromOldest.return?.();
  });
});

describe('listeners', () => {
  const N = 1000;

  /** Opens a subscription per topic and waits until Redis has every one of them. */
  async function openMany(bus: RedisEventBus, signals?: AbortSignal[]) {
    const iterators = Array.from({ length: N }, (_, i) =>
      bus.subscribe('ingest', `user-${i}`, { signal: signals?.[i] }),
    );
    // each waits for an event that never comes
    for (const it of iterators) void it.next();
    await until(`${N} subscriptions`, async () => (await channelsOf(bus)) === N);
    return iterators;
  }

  it('are released at once when a subscriber returns, with no further event on its topic', async () => {
    const bus = newBus();
    const iterators = await openMany(bus);
    for (const it of iterators) void it.return?.();
    await until('every channel to be released', async () => (await channelsOf(bus)) === 0, 2000);
    expect(bus.listenerCount()).toBe(0);
  });

  it('are released at once when a subscriber’s signal aborts', async () => {
    const bus = newBus();
    const controllers = Array.from({ length: N }, () => new AbortController());
    const iterators = await openMany(
      bus,
      controllers.map((c) => c.signal),
    );
    for (const c of controllers) c.abort();
    await until('every channel to be released', async () => (await channelsOf(bus)) === 0, 2000);
    expect(bus.listenerCount()).toBe(0);
    // an aborted subscription is simply over
    expect(await nextWithin(iterators[0]!)).toEqual({ done: true, value: undefined });
  });
});

import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import {
  abortOnReturn,
  type EventBus,
  ReplayGapError,
  type SubscribeOptions,
} from '../../ports/event-bus.ts';
import { type EventKind, type EventMap, type Sequenced, topicOf } from '../../ports/events.ts';

// One round trip assigns each event its topic's next seq, keeps it for replay and publishes it.
// Doing all three atomically means subscribers see every topic in seq order. Events published in
// the same turn of the event loop (a reply's token, and the tokens of every other reply streaming
// through this process) go out together as one script call: one command and one write instead of
// one per event.
// The seq counter (one small key per topic) never expires, so numbering never restarts (DESIGN
// §7); only the replay log, a stream whose ids are the seqs, expires when idle and is trimmed to
// about `max` entries. Its expiry is renewed on a new log's first event, every 32nd, and whenever
// the caller asks (its non-token events). PERSIST clears the expiry older counters still have.
// Keys of several topics in one call: standalone Redis (or one Cluster hash slot) only.
const PUBLISH_SCRIPT = `
local max = ARGV[1]
local ttl = ARGV[2]
local seqs = {}
for i = 1, #KEYS / 2 do
  local seqKey, logKey = KEYS[2 * i - 1], KEYS[2 * i]
  local seq = redis.call('INCR', seqKey)
  local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[3 * i], 2)
  redis.call('XADD', logKey, 'MAXLEN', '~', max, seq .. '-0', 'e', event)
  if ARGV[3 * i + 2] == '1' or seq % 32 == 1 or redis.call('XLEN', logKey) == 1 then
    redis.call('EXPIRE', logKey, ttl)
    redis.call('PERSIST', seqKey)
  end
  redis.call('PUBLISH', ARGV[3 * i + 1], event)
  seqs[i] = seq
end
return seqs
`;

// A topic's latest seq and its retained events from seq ARGV[1] on, read together so that a gap
// between what was asked for and what is retained is seen as it is.
const REPLAY_SCRIPT = `
local out = { tonumber(redis.call('GET', KEYS[1]) or '0') }
for i, entry in ipairs(redis.call('XRANGE', KEYS[2], ARGV[1], '+')) do out[i + 1] = entry[2][2] end
return out
`;

/** Most events per script call; a bigger turn's events go out as several calls, in order. */
const PUBLISH_BATCH_MAX = 256;

type PublishCommand = (...keysThenArgs: (string | number)[]) => Promise<number[]>;
type ReplayCommand = (seqKey: string, logKey: string, fromSeq: number) => Promise<[number, ...string[]]>;

interface QueuedEvent {
  channel: string;
  json: string;
  renew: '0' | '1';
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

export interface RedisEventBusOptions {
  redisUrl: string;
  prefix: string;
  replayTtlSec: number;
  replayMax: number;
  /** Connection errors (Redis down): ioredis reconnects by itself, the caller only logs. */
  onError?: (error: Error) => void;
  /** Seconds from an event's arrival from Redis to its delivery to a subscriber (live events only). */
  onDelivered?: (lagSeconds: number) => void;
}

export class RedisEventBus implements EventBus {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly target: EventTarget;

  private readonly options: RedisEventBusOptions;
  private queued: QueuedEvent[] = [];
  private listeners = 0;

  constructor(options: RedisEventBusOptions) {
    this.options = options;
    this.publisher = new Redis(options.redisUrl, { lazyConnect: false, enableAutoPipelining: true });
    this.subscriber = new Redis(options.redisUrl, { lazyConnect: false });
    const onError = options.onError ?? (() => {});
    this.publisher.on('error', onError);
    this.subscriber.on('error', onError);
    // the number of keys varies with the batch: it is the call's first argument
    this.publisher.defineCommand('twinPublish', { lua: PUBLISH_SCRIPT });
    this.publisher.defineCommand('twinReplay', { lua: REPLAY_SCRIPT, numberOfKeys: 2 });
    // Yoga's Redis event target: every API replica receives every event published by any process.
    this.target = createRedisEventTarget({ publishClient: this.publisher, subscribeClient: this.subscriber });
  }

  private channel(kind: EventKind, scope: string) {
    return `${this.options.prefix}:evt:${topicOf(kind, scope)}`;
  }

  publish<K extends EventKind>(kind: K, scope: string, event: EventMap[K]): Promise<number> {
    const json = JSON.stringify(event);
    if (!json.startsWith('{') || json === '{}')
      return Promise.reject(new Error('events must be non-empty objects'));
    return new Promise<number>((resolve, reject) => {
      this.queued.push({
        channel: this.channel(kind, scope),
        json,
        // a reply's tokens renew the expiry only now and then; everything else renews it
        renew: (event as { type?: unknown }).type === 'token' ? '0' : '1',
        resolve,
        reject,
      });
      if (this.queued.length === 1) setImmediate(this.flush);
    });
  }

  /** Sends what this turn published, in call order, over the one publishing connection. */
  private readonly flush = () => {
    const queued = this.queued;
    this.queued = [];
    const run = (this.publisher as unknown as { twinPublish: PublishCommand }).twinPublish;
    for (let from = 0; from < queued.length; from += PUBLISH_BATCH_MAX) {
      const batch = queued.slice(from, from + PUBLISH_BATCH_MAX);
      const keys: string[] = [];
      const args: string[] = [];
      for (const e of batch) {
        keys.push(`${e.channel}:seq`, `${e.channel}:stream`);
        args.push(e.json, e.channel, e.renew);
      }
      run
        .call(
          this.publisher,
          keys.length,
          ...keys,
          this.options.replayMax,
          this.options.replayTtlSec,
          ...args,
        )
        .then(
          (seqs) => {
            for (let i = 0; i < batch.length; i++) batch[i]!.resolve(Number(seqs[i]));
          },
          (error: unknown) => {
            for (const e of batch) e.reject(error);
          },
        );
    }
  };

  /** The topic's latest seq and the events retained after `afterSeq`, in order. */
  private async retained<K extends EventKind>(kind: K, scope: string, afterSeq: number) {
    const channel = this.channel(kind, scope);
    const run = (this.publisher as unknown as { twinReplay: ReplayCommand }).twinReplay;
    const [lastSeq, ...raw] = await run.call(
      this.publisher,
      `${channel}:seq`,
      `${channel}:stream`,
      Math.max(afterSeq, 0) + 1,
    );
    return { lastSeq: Number(lastSeq), events: raw.map((r) => JSON.parse(r) as Sequenced<EventMap[K]>) };
  }

  /** The events after `afterSeq`; a ReplayGapError when some of them are no longer retained. */
  private async replay<K extends EventKind>(kind: K, scope: string, afterSeq: number) {
    const { lastSeq, events } = await this.retained(kind, scope, afterSeq);
    const oldest = events[0]?.seq ?? lastSeq + 1;
    if (lastSeq > afterSeq && oldest > afterSeq + 1) throw new ReplayGapError(afterSeq, oldest);
    return events;
  }

  async history<K extends EventKind>(
    kind: K,
    scope: string,
    afterSeq = 0,
  ): Promise<Sequenced<EventMap[K]>[]> {
    return (await this.retained(kind, scope, afterSeq)).events;
  }

  async lastSeq(kind: EventKind, scope: string): Promise<number> {
    return Number((await this.publisher.get(`${this.channel(kind, scope)}:seq`)) ?? 0);
  }

  subscribe<K extends EventKind>(
    kind: K,
    scope: string,
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<Sequenced<EventMap[K]>> {
    return abortOnReturn((stop) =>
      this.stream(
        kind,
        scope,
        options.afterSeq,
        options.signal ? AbortSignal.any([stop, options.signal]) : stop,
      ),
    );
  }

  /** Subscriptions open in this process, each one listener: what a departed client must give back. */
  listenerCount(): number {
    return this.listeners;
  }

  private async *stream<K extends EventKind>(
    kind: K,
    scope: string,
    afterSeq: number | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<Sequenced<EventMap[K]>> {
    const channel = this.channel(kind, scope);
    const queue: Sequenced<EventMap[K]>[] = [];
    const arrivedAt: number[] = [];
    const onDelivered = this.options.onDelivered;
    let wake: (() => void) | undefined;
    const listener = (e: Event) => {
      queue.push((e as CustomEvent).detail as Sequenced<EventMap[K]>);
      arrivedAt.push(performance.now());
      wake?.();
    };
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    this.target.addEventListener(channel, listener);
    this.listeners++;
    try {
      // PING is answered after the SUBSCRIBE sent just before it: from here on nothing is missed.
      // Reading the retained log after that point means an event can arrive on both paths; the
      // seq check delivers it once.
      await this.subscriber.ping();
      let last = -1;
      if (afterSeq !== undefined) {
        last = Math.max(afterSeq, 0);
        for (const event of await this.replay(kind, scope, last)) {
          if (signal.aborted) return;
          last = event.seq;
          yield event;
        }
      }
      while (!signal.aborted) {
        const event = queue.shift();
        const arrived = arrivedAt.shift();
        if (!event) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (last === -1) last = event.seq - 1;
        if (event.seq <= last) continue;
        // seqs have no holes: one here is a message lost while the subscriber connection was down
        if (event.seq > last + 1) {
          for (const missed of await this.replay(kind, scope, last)) {
            if (missed.seq >= event.seq || signal.aborted) break;
            last = missed.seq;
            yield missed;
          }
        }
        last = event.seq;
        // measured when the subscriber pulls the event: a slow client's backlog shows as lag
        if (onDelivered && arrived !== undefined) onDelivered((performance.now() - arrived) / 1000);
        yield event;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.target.removeEventListener(channel, listener);
      this.listeners--;
    }
  }

  async ping(): Promise<void> {
    await this.publisher.ping();
  }

  async close(): Promise<void> {
    if (this.queued.length > 0) this.flush();
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }
}

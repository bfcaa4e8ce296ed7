import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { EventBus, SubscribeOptions } from '../../ports/event-bus.ts';
import { type EventKind, type EventMap, type Sequenced, topicOf } from '../../ports/events.ts';

// One round trip assigns each event its topic's next seq, keeps it for replay and publishes it.
// Doing all three atomically means subscribers see every topic in seq order. Events published in
// the same turn of the event loop (a reply's token, and the tokens of every other reply streaming
// through this process) go out together as one script call: one command and one write instead of
// one per event. The expiry is renewed on a topic's first event, every 32nd, and whenever the
// caller asks (its non-token events), and the log is trimmed only once it is full.
// Keys of several topics in one call: standalone Redis (or one Cluster hash slot) only.
const PUBLISH_SCRIPT = `
local max = tonumber(ARGV[1])
local ttl = ARGV[2]
local seqs = {}
for i = 1, #KEYS / 2 do
  local seqKey, logKey = KEYS[2 * i - 1], KEYS[2 * i]
  local seq = redis.call('INCR', seqKey)
  local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[3 * i], 2)
  if redis.call('RPUSH', logKey, event) > max then redis.call('LTRIM', logKey, -max, -1) end
  if seq % 32 == 1 or ARGV[3 * i + 2] == '1' then
    redis.call('EXPIRE', seqKey, ttl)
    redis.call('EXPIRE', logKey, ttl)
  end
  redis.call('PUBLISH', ARGV[3 * i + 1], event)
  seqs[i] = seq
end
return seqs
`;

/** Most events per script call; a bigger turn's events go out as several calls, in order. */
const PUBLISH_BATCH_MAX = 256;

type PublishCommand = (...keysThenArgs: (string | number)[]) => Promise<number[]>;

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
}

export class RedisEventBus implements EventBus {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly target: EventTarget;

  private readonly options: RedisEventBusOptions;
  private queued: QueuedEvent[] = [];

  constructor(options: RedisEventBusOptions) {
    this.options = options;
    this.publisher = new Redis(options.redisUrl, { lazyConnect: false, enableAutoPipelining: true });
    this.subscriber = new Redis(options.redisUrl, { lazyConnect: false });
    const onError = options.onError ?? (() => {});
    this.publisher.on('error', onError);
    this.subscriber.on('error', onError);
    // the number of keys varies with the batch: it is the call's first argument
    this.publisher.defineCommand('twinPublish', { lua: PUBLISH_SCRIPT });
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
        keys.push(`${e.channel}:seq`, `${e.channel}:log`);
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

  async history<K extends EventKind>(
    kind: K,
    scope: string,
    afterSeq = 0,
  ): Promise<Sequenced<EventMap[K]>[]> {
    const raw = await this.publisher.lrange(`${this.channel(kind, scope)}:log`, 0, -1);
    return raw.map((r) => JSON.parse(r) as Sequenced<EventMap[K]>).filter((e) => e.seq > afterSeq);
  }

  async *subscribe<K extends EventKind>(
    kind: K,
    scope: string,
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<Sequenced<EventMap[K]>> {
    const channel = this.channel(kind, scope);
    const queue: Sequenced<EventMap[K]>[] = [];
    let wake: (() => void) | undefined;
    const listener = (e: Event) => {
      queue.push((e as CustomEvent).detail as Sequenced<EventMap[K]>);
      wake?.();
    };
    const onAbort = () => wake?.();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.target.addEventListener(channel, listener);
    try {
      // PING is answered after the SUBSCRIBE sent just before it: from here on nothing is missed.
      // Reading the retained log after that point means an event can arrive on both paths; the
      // seq check delivers it once.
      await this.subscriber.ping();
      let last = options.afterSeq ?? -1;
      if (options.afterSeq !== undefined) {
        for (const event of await this.history(kind, scope, options.afterSeq)) {
          last = event.seq;
          yield event;
        }
      }
      while (!options.signal?.aborted) {
        const event = queue.shift();
        if (!event) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (last === -1) last = event.seq - 1;
        if (event.seq <= last) continue;
        last = event.seq;
        yield event;
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.target.removeEventListener(channel, listener);
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

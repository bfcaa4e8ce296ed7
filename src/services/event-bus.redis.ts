import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { Redis } from 'ioredis';
import type { EventBus, SubscribeOptions } from './event-bus.ts';
import { type EventKind, type EventMap, type Sequenced, topicOf } from './events.ts';

// One round trip assigns the topic's next seq, keeps the event for replay and publishes it.
// Doing all three atomically means subscribers see every topic in seq order. The expiry is
// renewed on a topic's first event, every 32nd, and whenever the caller asks (ARGV[5], its
// non-token events), and the log is trimmed only once it is full: a reply's tokens cost three
// commands each instead of six.
const PUBLISH_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
local max = tonumber(ARGV[2])
if redis.call('RPUSH', KEYS[2], event) > max then redis.call('LTRIM', KEYS[2], -max, -1) end
if seq % 32 == 1 or ARGV[5] == '1' then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], event)
return seq
`;

type PublishCommand = (
  seqKey: string,
  logKey: string,
  json: string,
  max: number,
  ttl: number,
  channel: string,
  renew: '0' | '1',
) => Promise<number>;

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

  constructor(options: RedisEventBusOptions) {
    this.options = options;
    this.publisher = new Redis(options.redisUrl, { lazyConnect: false, enableAutoPipelining: true });
    this.subscriber = new Redis(options.redisUrl, { lazyConnect: false });
    const onError = options.onError ?? (() => {});
    this.publisher.on('error', onError);
    this.subscriber.on('error', onError);
    this.publisher.defineCommand('twinPublish', { numberOfKeys: 2, lua: PUBLISH_SCRIPT });
    // Yoga's Redis event target: every API replica receives every event published by any process.
    this.target = createRedisEventTarget({ publishClient: this.publisher, subscribeClient: this.subscriber });
  }

  private channel(kind: EventKind, scope: string) {
    return `${this.options.prefix}:evt:${topicOf(kind, scope)}`;
  }

  async publish<K extends EventKind>(kind: K, scope: string, event: EventMap[K]): Promise<number> {
    const channel = this.channel(kind, scope);
    const json = JSON.stringify(event);
    if (!json.startsWith('{') || json === '{}') throw new Error('events must be non-empty objects');
    const run = (this.publisher as unknown as { twinPublish: PublishCommand }).twinPublish;
    return Number(
      await run.call(
        this.publisher,
        `${channel}:seq`,
        `${channel}:log`,
        json,
        this.options.replayMax,
        this.options.replayTtlSec,
        channel,
        // a reply's tokens renew the expiry only now and then; everything else renews it
        (event as { type?: unknown }).type === 'token' ? '0' : '1',
      ),
    );
  }

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
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }
}

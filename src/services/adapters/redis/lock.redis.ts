import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type LockOptions, type Locks, LockTimeoutError } from '../../ports/lock.ts';

// Only the holder that set the token may release the lock; an expired holder cannot free a
// lock someone else has taken since.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export class RedisLocks implements Locks {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redisUrl: string, prefix: string) {
    this.redis = new Redis(redisUrl, { enableAutoPipelining: true });
    this.prefix = prefix;
  }

  async withLock<T>(key: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const ttlMs = options.ttlMs ?? 30_000;
    const deadline = Date.now() + (options.waitMs ?? 20_000);
    const redisKey = `${this.prefix}:lock:${key}`;
    const token = randomUUID();
    let delay = 5;
    while ((await this.redis.set(redisKey, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new LockTimeoutError(key);
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
    const renewal = options.renew
      ? setInterval(
          () => {
            this.redis.eval(EXTEND, 1, redisKey, token, String(ttlMs)).catch(() => undefined);
          },
          Math.max(ttlMs / 3, 10),
        )
      : undefined;
    try {
      return await fn();
    } finally {
      clearInterval(renewal);
      await this.redis.eval(RELEASE, 1, redisKey, token);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

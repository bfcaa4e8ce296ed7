import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisLocks } from '../src/services/adapters/redis/lock.redis.ts';
import { LockTimeoutError } from '../src/services/ports/lock.ts';
import { testConfig } from './helpers/harness.ts';

// Locks on the real Redis: a renewed lock outlives its TTL while its holder works, and an
// unrenewed one expires, which is what frees the lock of a holder that was killed.
const config = testConfig();
const locks = new RedisLocks(config.REDIS_URL, config.QUEUE_PREFIX);
afterAll(() => locks.close());

describe('redis locks', () => {
  it('keeps a renewed lock past its TTL while the holder works, and frees it after', async () => {
    const key = `k-${randomUUID()}`;
    const holding = locks.withLock(key, () => sleep(900), { ttlMs: 300, renew: true });
    await sleep(600);
    await expect(locks.withLock(key, async () => 'taken', { waitMs: 100 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    await holding;
    await expect(locks.withLock(key, async () => 'taken', { waitMs: 100 })).resolves.toBe('taken');
  });

  it('lets an unrenewed lock expire after its TTL', async () => {
    const key = `k-${randomUUID()}`;
    const holding = locks.withLock(key, () => sleep(900), { ttlMs: 300 });
    await sleep(500);
    await expect(locks.withLock(key, async () => 'taken', { waitMs: 100 })).resolves.toBe('taken');
    await holding;
  });
});

import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RateDecision, RateLimitedAction, RateLimits } from '../../ports/rate-limits.ts';

export interface RateQuota {
  /** How many points a user may take per window. */
  points: number;
  windowSec: number;
}

/** Fixed-window counters in Redis (rate-limiter-flexible), one per user and action. */
export class RedisRateLimits implements RateLimits {
  private readonly redis: Redis;
  private readonly limiters: Record<RateLimitedAction, RateLimiterRedis>;

  constructor(options: { redisUrl: string; prefix: string; quotas: Record<RateLimitedAction, RateQuota> }) {
    this.redis = new Redis(options.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 3 });
    const limiter = (action: RateLimitedAction) =>
      new RateLimiterRedis({
        storeClient: this.redis,
        keyPrefix: `${options.prefix}:rate:${action}`,
        points: options.quotas[action].points,
        duration: options.quotas[action].windowSec,
      });
    this.limiters = {
      search: limiter('search'),
      reply: limiter('reply'),
      upload: limiter('upload'),
      training: limiter('training'),
    };
  }

  async consume(userId: string, action: RateLimitedAction, points = 1): Promise<RateDecision> {
    try {
      await this.limiters[action].consume(userId, points);
      return { ok: true };
    } catch (error) {
      // the library rejects with a RateLimiterRes when the quota is spent, an Error when Redis fails
      if (error instanceof RateLimiterRes) return { ok: false, retryAfterMs: error.msBeforeNext };
      throw error;
    }
  }

  async refund(userId: string, action: RateLimitedAction, points = 1): Promise<void> {
    await this.limiters[action].reward(userId, points);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

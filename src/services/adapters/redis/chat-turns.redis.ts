import { Redis } from 'ioredis';
import type { ChatTurnCache, RecentTurn } from '../../ports/chat-turns.ts';

// The list's first element is a marker, so an empty session reads as "no turns" while an
// expired or never-written key reads as "unknown".
const MARKER = '#';

export class RedisChatTurnCache implements ChatTurnCache {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly max: number;
  private readonly ttlSec: number;

  constructor(options: { redisUrl: string; prefix: string; max?: number; ttlSec?: number }) {
    this.redis = new Redis(options.redisUrl, { enableAutoPipelining: true });
    this.prefix = options.prefix;
    this.max = options.max ?? 40;
    this.ttlSec = options.ttlSec ?? 24 * 3600;
  }

  private key(sessionId: string) {
    return `${this.prefix}:turns:${sessionId}`;
  }

  async read(sessionId: string): Promise<RecentTurn[] | null> {
    const raw = await this.redis.lrange(this.key(sessionId), 0, -1);
    if (raw[0] !== MARKER) return null;
    return raw.slice(1).map((r) => JSON.parse(r) as RecentTurn);
  }

  async write(sessionId: string, turns: readonly RecentTurn[]): Promise<void> {
    const key = this.key(sessionId);
    const window = turns
      .slice(-this.max)
      .map((t) =>
        JSON.stringify({ role: t.role, content: t.content, ...(t.status ? { status: t.status } : {}) }),
      );
    await this.redis
      .multi()
      .del(key)
      .rpush(key, MARKER, ...window)
      .expire(key, this.ttlSec)
      .exec();
  }

  async transcriptToken(sessionId: string): Promise<string | null> {
    return this.redis.get(`${this.key(sessionId)}:token`);
  }

  async setTranscriptToken(sessionId: string, token: string): Promise<void> {
    await this.redis.set(`${this.key(sessionId)}:token`, token, 'EX', this.ttlSec);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

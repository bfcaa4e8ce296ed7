import type { MikroORM } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';

// Users are created on first authenticated use; the cache keeps that to one INSERT per user.
export class UsersService {
  private readonly known = new LRUCache<string, true>({ max: 10_000 });

  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  async ensure(userId: string): Promise<void> {
    if (this.known.has(userId)) return;
    await this.orm.em
      .getConnection()
      .execute('INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING', [userId]);
    this.known.set(userId, true);
  }
}

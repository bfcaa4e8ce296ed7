import type { MikroORM } from '@mikro-orm/postgresql';
import type { Database, UsersRepository } from '../../ports/repositories.ts';
import { PgAccountRepository } from './account.repository.pg.ts';
import { PgApiKeysRepository } from './api-keys.repository.pg.ts';
import { PgChatSessionsRepository } from './chat-sessions.repository.pg.ts';
import { PgDocumentsRepository } from './documents.repository.pg.ts';
import { PgMemoryRepository } from './memory.repository.pg.ts';

class PgUsersRepository implements UsersRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  async ensure(userId: string): Promise<void> {
    await this.orm.em
      .getConnection()
      .execute('INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING', [userId]);
  }
}

/** The repositories of DESIGN §3 over one MikroORM connection pool. */
export function pgDatabase(orm: MikroORM): Database {
  return {
    documents: new PgDocumentsRepository(orm),
    chatSessions: new PgChatSessionsRepository(orm),
    users: new PgUsersRepository(orm),
    apiKeys: new PgApiKeysRepository(orm),
    account: new PgAccountRepository(orm),
    memory: new PgMemoryRepository(orm),
    async ping() {
      await orm.em.getConnection().execute('SELECT 1');
    },
    close: () => orm.close(),
  };
}

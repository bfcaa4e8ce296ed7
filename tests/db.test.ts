import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, describe, expect, it } from 'vitest';
import { ChatSession, Document, TrainingJob, User } from '../src/services/adapters/postgres/entities.ts';
import { createOrm, migrateUp, migrations } from '../src/services/adapters/postgres/orm.ts';
import { testConfig } from './helpers/harness.ts';

const config = testConfig();
const opened: MikroORM[] = [];

afterAll(async () => {
  for (const orm of opened) await orm.close();
});

describe('PostgreSQL schema', () => {
  it('migrates an empty database to the full schema and seeds user "1"', async () => {
    const name = `twin_migrate_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const admin = await createOrm(config.DATABASE_URL, 1);
    opened.push(admin);
    await admin.em.getConnection().execute(`CREATE DATABASE ${name}`);
    const url = new URL(config.DATABASE_URL);
    url.pathname = `/${name}`;
    const orm = await createOrm(url.toString(), 1);
    try {
      expect(await migrateUp(orm)).toEqual(migrations.map((m) => m.name));
      expect(await migrateUp(orm)).toEqual([]);
      const conn = orm.em.getConnection();
      const tables = await conn.execute<{ table_name: string }[]>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['chat_sessions', 'documents', 'training_jobs', 'users']),
      );
      const userIdType = await conn.execute<{ data_type: string }[]>(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'documents' AND column_name = 'user_id'",
      );
      expect(userIdType[0]?.data_type).toBe('text');
      expect(await conn.execute('SELECT id FROM users')).toEqual([{ id: '1' }]);
    } finally {
      await orm.close();
      await admin.em.getConnection().execute(`DROP DATABASE ${name}`);
    }
  });

  it('round-trips entities, and refuses a second copy of the same bytes for one user', async () => {
    const orm = await createOrm(config.DATABASE_URL, 2);
    opened.push(orm);
    const em = orm.em.fork();
    const userId = `u-${randomUUID()}`;
    em.create(User, { id: userId });
    // user_id is a plain column (every query names its tenant), so the user row goes in first
    await em.flush();
    const doc = em.create(Document, {
      id: randomUUID(),
      userId,
      filename: 'notes.md',
      contentType: 'text/markdown',
      s3Path: 'raw/x/notes.md',
      contentHash: 'a'.repeat(64),
      bytes: 1234,
    });
    const run = em.create(TrainingJob, {
      id: randomUUID(),
      userId,
      config: { loraR: 8 },
      metrics: { loss: 0.5 },
    });
    const chat = em.create(ChatSession, {
      id: randomUUID(),
      userId,
      title: 'hello',
      sessionS3Path: 'chats/1/',
    });
    await em.flush();

    const again = orm.em.fork();
    const loaded = await again.findOneOrFail(Document, { id: doc.id });
    expect(loaded).toMatchObject({
      userId,
      status: 'queued',
      kind: 'document',
      bytes: 1234,
      processed: false,
    });
    expect((await again.findOneOrFail(TrainingJob, { id: run.id })).config).toEqual({ loraR: 8 });
    expect((await again.findOneOrFail(ChatSession, { id: chat.id })).title).toBe('hello');

    const dup = orm.em.fork();
    dup.create(Document, { ...doc, id: randomUUID() });
    await expect(dup.flush()).rejects.toThrow(/unique|duplicate/i);
  });
});

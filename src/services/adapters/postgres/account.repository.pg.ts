import type { MikroORM } from '@mikro-orm/postgresql';
import type { AccountRepository, DeletedAccountRows } from '../../ports/repositories.ts';

// A user's rows as a whole (DESIGN §10): the export reads every table that holds a user_id, the
// deletion removes them in one transaction. A table added later belongs in both lists.
const EXPORTED = {
  users: 'SELECT * FROM users WHERE id = ?',
  documents: 'SELECT * FROM documents WHERE user_id = ? ORDER BY uploaded_at, id',
  chat_sessions: 'SELECT * FROM chat_sessions WHERE user_id = ? ORDER BY created_at, id',
  // the key hash is a credential's fingerprint, not the person's data
  api_keys:
    'SELECT id, user_id, name, prefix, scopes, created_at, last_used_at, revoked_at FROM api_keys WHERE user_id = ? ORDER BY created_at, id',
  training_jobs: 'SELECT * FROM training_jobs WHERE user_id = ? ORDER BY started_at NULLS FIRST, id',
  // every signed callback of the user's runs (they go with their run on deletion, ON DELETE CASCADE)
  training_events:
    'SELECT * FROM training_events WHERE user_id = ? ORDER BY received_at, run_id, attempt, seq',
  memory_versions: 'SELECT * FROM memory_versions WHERE user_id = ? ORDER BY created_at, version',
  memory_topics: 'SELECT * FROM memory_topics WHERE user_id = ? ORDER BY version, depth, topic_id',
  memory_clusters: 'SELECT * FROM memory_clusters WHERE user_id = ? ORDER BY version, cluster_id',
  memory_chunk_assignments:
    'SELECT * FROM memory_chunk_assignments WHERE user_id = ? ORDER BY version, document_id, chunk_index',
  memory_entities: 'SELECT * FROM memory_entities WHERE user_id = ? ORDER BY version, entity_id',
  memory_entity_mentions:
    'SELECT * FROM memory_entity_mentions WHERE user_id = ? ORDER BY version, entity_id, chunk_id',
  memory_relations: 'SELECT * FROM memory_relations WHERE user_id = ? ORDER BY version, relation_id',
} as const;

// L1 memory rows are derived data, deleted before the rest (the receipt counts the tables a
// person recognises; these would cascade with the users row anyway)
const MEMORY_TABLES = [
  'memory_relations',
  'memory_entity_mentions',
  'memory_entities',
  'memory_chunk_assignments',
  'memory_clusters',
  'memory_topics',
  'memory_versions',
] as const;

export class PgAccountRepository implements AccountRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  async exportRows(userId: string): Promise<Record<string, Record<string, unknown>[]>> {
    const db = this.orm.em.getConnection();
    const entries = await Promise.all(
      Object.entries(EXPORTED).map(
        async ([table, sql]) => [table, await db.execute<Record<string, unknown>[]>(sql, [userId])] as const,
      ),
    );
    return Object.fromEntries(entries);
  }

  async deleteUser(userId: string): Promise<DeletedAccountRows> {
    return this.orm.em.fork().transactional(async (em) => {
      const tx = em.getTransactionContext();
      const db = em.getConnection();
      const run = (sql: string) => db.execute<Record<string, unknown>[]>(sql, [userId], 'all', tx);
      for (const table of MEMORY_TABLES) await run(`DELETE FROM ${table} WHERE user_id = ?`);
      // children first and explicitly, so the receipt counts each table (the FKs would cascade)
      const documents = await run('DELETE FROM documents WHERE user_id = ? RETURNING status, ingest_job_id');
      const sessions = await run('DELETE FROM chat_sessions WHERE user_id = ? RETURNING id');
      const apiKeys = await run('DELETE FROM api_keys WHERE user_id = ? RETURNING id');
      const trainingJobs = await run('DELETE FROM training_jobs WHERE user_id = ? RETURNING id');
      const users = await run('DELETE FROM users WHERE id = ? RETURNING id');
      return {
        rows: {
          users: users.length,
          documents: documents.length,
          chatSessions: sessions.length,
          apiKeys: apiKeys.length,
          trainingJobs: trainingJobs.length,
        },
        pendingIngestJobIds: documents
          .filter((d) => (d.status === 'queued' || d.status === 'processing') && d.ingest_job_id)
          .map((d) => String(d.ingest_job_id)),
        sessionIds: sessions.map((s) => String(s.id)),
      };
    });
  }
}

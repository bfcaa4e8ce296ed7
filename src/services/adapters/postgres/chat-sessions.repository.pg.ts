import type { MikroORM } from '@mikro-orm/postgresql';
import type { ChatSessionRow, ChatSessionsRepository } from '../../ports/repositories.ts';

interface SessionRow {
  id: string;
  user_id: string;
  title: string | null;
  summary: string | null;
  created_at: Date;
}

const toRow = (r: SessionRow): ChatSessionRow => ({
  id: r.id,
  userId: r.user_id,
  title: r.title,
  summary: r.summary,
  createdAt: new Date(r.created_at),
});

export class PgChatSessionsRepository implements ChatSessionsRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  private get db() {
    return this.orm.em.getConnection();
  }

  async create(row: ChatSessionRow & { s3Path: string }): Promise<void> {
    await this.db.execute(
      `INSERT INTO chat_sessions (id, user_id, title, summary, session_s3_path, created_at, processed_for_training)
       VALUES (?, ?, ?, ?, ?, ?, false)`,
      [row.id, row.userId, row.title, row.summary, row.s3Path, row.createdAt],
    );
  }

  async get(userId: string, id: string): Promise<ChatSessionRow | null> {
    const rows = await this.db.execute<SessionRow[]>(
      'SELECT id, user_id, title, summary, created_at FROM chat_sessions WHERE id = ? AND user_id = ?',
      [id, userId],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  async list(
    userId: string,
    limit: number,
    after?: { createdAt: string; id: string },
  ): Promise<ChatSessionRow[]> {
    const params: unknown[] = [userId];
    let where = 'user_id = ?';
    if (after) {
      params.push(after.createdAt, after.id);
      where += ' AND (created_at, id) < (?::timestamptz, ?::uuid)';
    }
    const rows = await this.db.execute<SessionRow[]>(
      `SELECT id, user_id, title, summary, created_at FROM chat_sessions WHERE ${where}
       ORDER BY created_at DESC, id DESC LIMIT ?`,
      [...params, limit],
    );
    return rows.map(toRow);
  }

  async updateTitleSummary(userId: string, id: string, title: string | null, summary: string | null) {
    await this.db.execute(
      'UPDATE chat_sessions SET title = COALESCE(title, ?), summary = ? WHERE id = ? AND user_id = ?',
      [title, summary, id, userId],
    );
  }

  async delete(userId: string, id: string): Promise<boolean> {
    const deleted = await this.db.execute<{ affectedRows: number }>(
      'DELETE FROM chat_sessions WHERE id = ? AND user_id = ?',
      [id, userId],
      'run',
    );
    return deleted.affectedRows > 0;
  }
}

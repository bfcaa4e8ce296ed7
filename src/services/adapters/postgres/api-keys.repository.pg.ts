import type { MikroORM } from '@mikro-orm/postgresql';
import type { ApiKeyRow, ApiKeysRepository } from '../../ports/repositories.ts';

interface KeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, user_id, name, prefix, scopes, created_at, last_used_at, revoked_at';

const toRow = (r: KeyRow): ApiKeyRow => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  prefix: r.prefix,
  scopes: r.scopes,
  createdAt: new Date(r.created_at),
  lastUsedAt: r.last_used_at ? new Date(r.last_used_at) : null,
  revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
});

export class PgApiKeysRepository implements ApiKeysRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  private get db() {
    return this.orm.em.getConnection();
  }

  async insert(row: Parameters<ApiKeysRepository['insert']>[0]): Promise<ApiKeyRow> {
    const rows = await this.db.execute<KeyRow[]>(
      `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes) VALUES (?, ?, ?, ?, ?, ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))
       RETURNING ${COLUMNS}`,
      // an array parameter would be expanded into a list: the scopes travel as one JSON value
      [row.id, row.userId, row.name, row.prefix, row.keyHash, JSON.stringify(row.scopes)],
    );
    return toRow(rows[0]!);
  }

  async countActive(userId: string): Promise<number> {
    const [row] = await this.db.execute<{ n: string }[]>(
      'SELECT count(*) AS n FROM api_keys WHERE user_id = ? AND revoked_at IS NULL',
      [userId],
    );
    return Number(row?.n ?? 0);
  }

  async list(userId: string): Promise<ApiKeyRow[]> {
    const rows = await this.db.execute<KeyRow[]>(
      `SELECT ${COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, id DESC`,
      [userId],
    );
    return rows.map(toRow);
  }

  async revoke(userId: string, id: string): Promise<ApiKeyRow | null> {
    const rows = await this.db.execute<KeyRow[]>(
      `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = ? AND user_id = ?
       RETURNING ${COLUMNS}`,
      [id, userId],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  async findByHash(keyHash: string): Promise<ApiKeyRow | null> {
    const rows = await this.db.execute<KeyRow[]>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`, [
      keyHash,
    ]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  async touch(id: string, at: Date, unlessAfter: Date): Promise<void> {
    await this.db.execute(
      'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
      [at, id, unlessAfter],
    );
  }
}

import type { EntityDictionary } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { isUuid } from '../../ids.ts';
import type { DocumentRecord } from '../../ports/document.ts';
import type { PerspectiveSetting } from '../../ports/memory.ts';
import type {
  DocumentCursor,
  DocumentKey,
  DocumentListFilter,
  DocumentsRepository,
  NewDocument,
} from '../../ports/repositories.ts';
import { Document, type IDocument } from './entities.ts';

// Hot paths (every upload, ingest and search) use plain SQL mapped by MikroORM's metadata: em.find
// costs ~1 ms of CPU per call in query building and hydration (BENCHMARKS.md, search and ingest).
export class PgDocumentsRepository implements DocumentsRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  private get db() {
    return this.orm.em.getConnection();
  }

  private map(row: EntityDictionary<IDocument>): DocumentRecord {
    const em = this.orm.em;
    return em.getDriver().mapResult(row, em.getMetadata().get(Document)) as DocumentRecord;
  }

  async insertIfNew(row: NewDocument): Promise<DocumentRecord | null> {
    const inserted = await this.db.execute<EntityDictionary<IDocument>[]>(
      `INSERT INTO documents (id, user_id, filename, content_type, s3_path, content_hash, status, kind, bytes, ingest_job_id)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)
       ON CONFLICT (user_id, content_hash) DO NOTHING RETURNING *`,
      [
        row.id,
        row.userId,
        row.filename,
        row.contentType,
        row.s3Path,
        row.contentHash,
        row.kind,
        row.bytes,
        row.ingestJobId,
      ],
    );
    return inserted[0] ? this.map(inserted[0]) : null;
  }

  async findByHash(userId: string, contentHash: string): Promise<DocumentRecord | null> {
    const rows = await this.db.execute<EntityDictionary<IDocument>[]>(
      'SELECT * FROM documents WHERE user_id = ? AND content_hash = ?',
      [userId, contentHash],
    );
    return rows[0] ? this.map(rows[0]) : null;
  }

  async get(userId: string, id: string): Promise<DocumentRecord | null> {
    return (await this.getMany(userId, [id]))[0] ?? null;
  }

  async getMany(userId: string, ids: readonly string[]): Promise<(DocumentRecord | null)[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return ids.map(() => null);
    const rows = await this.db.execute<EntityDictionary<IDocument>[]>(
      'SELECT * FROM documents WHERE user_id = ? AND id IN (?)',
      [userId, valid],
    );
    const byId = new Map(rows.map((r) => [r.id as string, this.map(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async list(
    userId: string,
    filter: DocumentListFilter,
    limit: number,
    after?: DocumentCursor,
  ): Promise<DocumentRecord[]> {
    const rows = await this.orm.em.fork().find(
      Document,
      {
        userId,
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.kind ? { kind: filter.kind } : {}),
        ...(after
          ? {
              $or: [
                { uploadedAt: { $lt: after.uploadedAt } },
                { uploadedAt: after.uploadedAt, id: { $lt: after.id } },
              ],
            }
          : {}),
      },
      { orderBy: { uploadedAt: 'desc', id: 'desc' }, limit },
    );
    return rows as DocumentRecord[];
  }

  async delete(userId: string, id: string): Promise<void> {
    await this.db.execute('DELETE FROM documents WHERE user_id = ? AND id = ?', [userId, id]);
  }

  async setPerspective(
    userId: string,
    id: string,
    perspective: PerspectiveSetting,
  ): Promise<DocumentRecord | null> {
    if (!isUuid(id)) return null;
    const rows = await this.db.execute<EntityDictionary<IDocument>[]>(
      'UPDATE documents SET perspective = ? WHERE user_id = ? AND id = ? RETURNING *',
      [perspective, userId, id],
    );
    return rows[0] ? this.map(rows[0]) : null;
  }

  async listProcessed(userId: string): Promise<DocumentRecord[]> {
    const rows = await this.db.execute<EntityDictionary<IDocument>[]>(
      "SELECT * FROM documents WHERE user_id = ? AND status = 'processed' ORDER BY uploaded_at, id",
      [userId],
    );
    return rows.map((r) => this.map(r));
  }

  async requeue(userId: string, id: string, ingestJobId: string): Promise<void> {
    await this.db.execute(
      "UPDATE documents SET status = 'queued', error = NULL, processed = false, ingest_job_id = ? WHERE user_id = ? AND id = ?",
      [ingestJobId, userId, id],
    );
  }

  async startProcessing(userId: string, id: string): Promise<void> {
    await this.db.execute(
      "UPDATE documents SET status = 'processing', error = NULL WHERE user_id = ? AND id = ?",
      [userId, id],
    );
  }

  async markProcessed(
    userId: string,
    id: string,
    ingestJobId: string,
    result: { chunkCount: number; embeddingModel: string },
  ): Promise<boolean> {
    const updated = await this.db.execute<{ affectedRows: number }>(
      `UPDATE documents SET status = 'processed', processed = true, chunk_count = ?, embedding_model = ?,
         error = NULL WHERE user_id = ? AND id = ? AND ingest_job_id = ?`,
      [result.chunkCount, result.embeddingModel, userId, id, ingestJobId],
      'run',
    );
    return updated.affectedRows > 0;
  }

  async markFailed(userId: string, id: string, ingestJobId: string | null, error: string): Promise<boolean> {
    const updated = await this.db.execute<{ affectedRows: number }>(
      `UPDATE documents SET status = 'failed', processed = false, chunk_count = 0, error = ?
         WHERE user_id = ? AND id = ?${ingestJobId ? ' AND ingest_job_id = ?' : ''}`,
      [error.slice(0, 2000), userId, id, ...(ingestJobId ? [ingestJobId] : [])],
      'run',
    );
    return updated.affectedRows > 0;
  }

  async listEmbeddedWithOtherModel(
    embeddingModel: string,
    limit: number,
    after?: DocumentKey,
    only?: { userId: string },
  ): Promise<DocumentKey[]> {
    const rows = await this.db.execute<{ user_id: string; id: string }[]>(
      `SELECT user_id, id FROM documents
         WHERE status = 'processed' AND embedding_model IS DISTINCT FROM ?${only ? ' AND user_id = ?' : ''}${after ? ' AND (user_id, id) > (?, ?)' : ''}
         ORDER BY user_id, id LIMIT ?`,
      [embeddingModel, ...(only ? [only.userId] : []), ...(after ? [after.userId, after.id] : []), limit],
    );
    return rows.map((r) => ({ userId: r.user_id, id: r.id }));
  }
}

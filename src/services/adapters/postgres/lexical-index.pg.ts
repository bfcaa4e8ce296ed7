import type { MikroORM } from '@mikro-orm/postgresql';
import { isUuid } from '../../ids.ts';
import type {
  LexicalChunk,
  LexicalHit,
  LexicalIndex,
  LexicalSearchOptions,
} from '../../ports/lexical-index.ts';

// The lexical side of hybrid search over `chunk_terms` (DESIGN §5): the terms are derived in SQL
// from the text parameter, and the text itself is never stored.
//
// The english parser splits "1:52:40" into 1, 52 and 40 (and dates, "12,345", "3/4" alike), so a
// number asked for exactly would rank no better than any chunk holding a 1 and a 40. Each such
// compound number is therefore also kept whole, weighted A: a chunk holding it outranks one that
// only holds its parts. A question becomes the OR of its lexemes (and its compound numbers), so a
// long natural question still matches chunks that hold only some of its words.

type Db = ReturnType<MikroORM['em']['getConnection']>;
type Tx = Parameters<Db['execute']>[3];

interface Executor {
  executeQuery(query: unknown): Promise<{ rows: unknown[]; numAffectedRows?: bigint }>;
}

/** Digits joined by `:` `.` `,` `/` `-`: times, dates, versions, thousands. */
const COMPOUND_NUMBER = String.raw`\d+(?:[:.,/-]\d+)+`;

/** A word as a quoted tsvector/tsquery lexeme (quotes and backslashes doubled). */
const quoted = (word: string) => `'''' || replace(replace(${word}, '\\', '\\\\'), '''', '''''') || ''''`;

/** The tsvector of `$text`: english lexemes plus each compound number whole, weighted A. */
const tsvectorOf = (text: string) => `to_tsvector('english', ${text}) || COALESCE((
  SELECT string_agg(DISTINCT ${quoted('m[1]')} || ':1A', ' ')
    FROM regexp_matches(${text}, '${COMPOUND_NUMBER}', 'g') AS m)::tsvector, ''::tsvector)`;

/** The OR of the query's english lexemes and compound numbers; NULL when it has none. */
const tsqueryOf = (text: string) => `(SELECT string_agg(${quoted('w')}, ' | ')::tsquery FROM (
    SELECT unnest(tsvector_to_array(to_tsvector('english', ${text}))) AS w
    UNION SELECT m[1] FROM regexp_matches(${text}, '${COMPOUND_NUMBER}', 'g') AS m) AS words)`;

// ts_rank_cd normalization 1: divided by 1 + log(length), so a long chunk does not win by size alone
const SEARCH_SQL = `WITH q AS (SELECT ${tsqueryOf('$1::text')} AS query)
  SELECT t.document_id, t.chunk_index, t.s3_path, t.char_start, t.char_end, t.page, d.filename,
         ts_rank_cd(t.tsv, q.query, 1) AS score
    FROM q, chunk_terms t
    JOIN documents d ON d.id = t.document_id AND d.user_id = t.user_id AND d.status = 'processed'
   WHERE t.user_id = $2 AND t.tsv @@ q.query AND ($4::text IS NULL OR d.embedding_model = $4)
   ORDER BY score DESC, t.document_id, t.chunk_index
   LIMIT $3`;

// rows only while the document exists: an ingest finishing after its document's deletion adds none
const INSERT_SQL = `INSERT INTO chunk_terms
    (user_id, document_id, chunk_index, s3_path, char_start, char_end, page, tsv)
  SELECT $1, $2::uuid, c.chunk_index, c.s3_path, c.char_start, c.char_end, c.page, ${tsvectorOf('c.text')}
    FROM unnest($3::int[], $4::text[], $5::int[], $6::int[], $7::int[], $8::text[])
      AS c(chunk_index, s3_path, char_start, char_end, page, text)
   WHERE EXISTS (SELECT 1 FROM documents WHERE id = $2::uuid AND user_id = $1)`;

/** Chunks per INSERT: bounds one statement's parameters (the texts) to a few MB. */
const BATCH = 2000;

interface HitRow {
  document_id: string;
  chunk_index: number;
  s3_path: string;
  char_start: number;
  char_end: number;
  page: number | null;
  filename: string;
  score: number;
}

export class PgLexicalIndex implements LexicalIndex {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  /** `$1`-style SQL with bind parameters straight to the driver (MikroORM's `execute` inlines them). */
  private async query<R>(sql: string, parameters: unknown[], tx?: Tx): Promise<R[]> {
    const executor = (tx ?? this.orm.em.getConnection().getClient()) as unknown as Executor;
    const result = await executor.executeQuery({
      sql,
      parameters,
      query: { kind: 'RawNode', sqlFragments: [sql], parameters: [] },
      queryId: { queryId: 'lexical-index' },
    });
    return result.rows as R[];
  }

  async replaceDocument(userId: string, documentId: string, chunks: readonly LexicalChunk[]): Promise<void> {
    await this.orm.em.fork().transactional(async (em) => {
      const tx = em.getTransactionContext() as Tx;
      // two ingests of one document (a retry overlapping a stalled attempt) never interleave
      await this.query(
        "SELECT pg_advisory_xact_lock(hashtextextended('chunk_terms:' || $1 || ':' || $2, 0))",
        [userId, documentId],
        tx,
      );
      await this.query(
        'DELETE FROM chunk_terms WHERE user_id = $1 AND document_id = $2::uuid',
        [userId, documentId],
        tx,
      );
      for (let start = 0; start < chunks.length; start += BATCH) {
        const slice = chunks.slice(start, start + BATCH);
        await this.query(
          INSERT_SQL,
          [
            userId,
            documentId,
            slice.map((c) => c.chunkIndex),
            slice.map((c) => c.s3Path),
            slice.map((c) => c.charStart),
            slice.map((c) => c.charEnd),
            slice.map((c) => c.page),
            // PostgreSQL text cannot hold NUL
            slice.map((c) => c.text.replaceAll('\u0000', ' ')),
          ],
          tx,
        );
      }
    });
  }

  async search(userId: string, query: string, options: LexicalSearchOptions): Promise<LexicalHit[]> {
    if (options.limit <= 0 || !query.trim()) return [];
    const rows = await this.query<HitRow>(SEARCH_SQL, [
      query.replaceAll('\u0000', ' '),
      userId,
      options.limit,
      options.embeddingModel ?? null,
    ]);
    return rows.map((r) => ({
      documentId: r.document_id,
      chunkIndex: r.chunk_index,
      s3Path: r.s3_path,
      charStart: r.char_start,
      charEnd: r.char_end,
      page: r.page,
      filename: r.filename,
      score: Number(r.score),
    }));
  }

  async deleteByDocument(userId: string, documentId: string): Promise<number> {
    if (!isUuid(documentId)) return 0;
    const rows = await this.query<{ n: number }>(
      `WITH gone AS (DELETE FROM chunk_terms WHERE user_id = $1 AND document_id = $2::uuid RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [userId, documentId],
    );
    return rows[0]?.n ?? 0;
  }

  async countByDocument(userId: string, documentId: string): Promise<number> {
    if (!isUuid(documentId)) return 0;
    const rows = await this.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM chunk_terms WHERE user_id = $1 AND document_id = $2::uuid',
      [userId, documentId],
    );
    return rows[0]?.n ?? 0;
  }

  async deleteTenant(userId: string): Promise<number> {
    const rows = await this.query<{ n: number }>(
      `WITH gone AS (DELETE FROM chunk_terms WHERE user_id = $1 RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [userId],
    );
    return rows[0]?.n ?? 0;
  }
}

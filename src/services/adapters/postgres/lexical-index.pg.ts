import type { MikroORM } from '@mikro-orm/postgresql';
import { LRUCache } from 'lru-cache';
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
// only holds its parts.
//
// A question becomes the OR of its lexemes, so a long natural question still matches chunks that
// hold only some of its words. A GIN index finds the matches but cannot rank them: every matching
// row is read and ranked, and an OR of common words matches most of a tenant (at 100,000 bench
// chunks: 11,764 matches, 200 ms); the index's posting lists are per lexeme across all tenants,
// so a common word costs every tenant. So a query keeps its rarest lexemes only, as many as keep
// the expected matches of the user within `maxMatches` and the expected postings of the whole
// table within `maxPostings`, by the lexeme frequencies ANALYZE keeps for the column (pg_stats
// most_common_elems; a lexeme not among them is rarer than all of them). Common words carry little
// information anyway (what BM25's idf weighs down, this leaves out); compound numbers are always
// kept. Without statistics yet (a new database) every lexeme is kept.

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

// $1 query, $2 user, $3 limit, $4 embedding model (or null), $5/$6 the column's common lexemes and
// their frequencies, $7 the frequency assumed for any other lexeme, $8 the user's rows, $9 the
// expected matches allowed, $10 the most the rarest lexeme alone may expect (else no lexical hits),
// $11 the table's rows, $12 the expected postings allowed.
// Ranked by ts_rank, normalization 1 (divided by 1 + log(length): a long chunk does not win by
// size alone).
const SEARCH_SQL = `WITH words AS (
    SELECT DISTINCT w FROM unnest(tsvector_to_array(to_tsvector('english', $1::text))) AS w
  ), rarity AS (
    SELECT words.w, COALESCE(common.f, $7::float8) AS f
      FROM words LEFT JOIN unnest($5::text[], $6::float8[]) AS common(w, f) ON common.w = words.w
  ), running AS (
    SELECT w, sum(f) OVER (ORDER BY f, w) AS share FROM rarity
  ), picked AS (
    SELECT w FROM running
     WHERE (share * $8::float8 <= $9::float8 AND share * $11::float8 <= $12::float8)
        OR (share * $8::float8 <= $10::float8 AND share = (SELECT min(share) FROM running))
    UNION SELECT m[1] FROM regexp_matches($1::text, '${COMPOUND_NUMBER}', 'g') AS m
  ), q AS (SELECT string_agg(${quoted('w')}, ' | ')::tsquery AS query FROM picked)
  SELECT t.document_id, t.chunk_index, t.s3_path, t.char_start, t.char_end, t.page, d.filename,
         ts_rank(t.tsv, q.query, 1) AS score
    FROM q, chunk_terms t
    JOIN documents d ON d.id = t.document_id AND d.user_id = t.user_id AND d.status = 'processed'
   WHERE t.user_id = $2 AND t.tsv @@ q.query AND ($4::text IS NULL OR d.embedding_model = $4)
   ORDER BY score DESC, t.document_id, t.chunk_index
   LIMIT $3`;

const STATS_SQL = `SELECT common.w, common.f,
         (SELECT reltuples FROM pg_class WHERE oid = 'chunk_terms'::regclass) AS table_rows
    FROM pg_stats s, unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS common(w, f)
   WHERE s.schemaname = current_schema() AND s.tablename = 'chunk_terms' AND s.attname = 'tsv'
     AND common.w IS NOT NULL`;

// rows only while the document exists: an ingest finishing after its document's deletion adds none
const INSERT_SQL = `INSERT INTO chunk_terms
    (user_id, document_id, chunk_index, s3_path, char_start, char_end, page, tsv)
  SELECT $1, $2::uuid, c.chunk_index, c.s3_path, c.char_start, c.char_end, c.page, ${tsvectorOf('c.text')}
    FROM unnest($3::int[], $4::text[], $5::int[], $6::int[], $7::int[], $8::text[])
      AS c(chunk_index, s3_path, char_start, char_end, page, text)
   WHERE EXISTS (SELECT 1 FROM documents WHERE id = $2::uuid AND user_id = $1)`;

/** A PostgreSQL array literal of elements already quoted as the literal needs them. */
const arrayLiteral = (elements: readonly string[]) => `{${elements.join(',')}}`;

/** `words` as a text[] literal: each element quoted, its backslashes and quotes escaped. */
export const textArrayLiteral = (words: readonly string[]) =>
  arrayLiteral(words.map((w) => `"${w.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`));

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

export interface LexicalIndexOptions {
  /** The matches of the user's a query may expect to read and rank (default 1,000; see above). */
  maxMatches?: number;
  /** The postings of the whole table a query may expect to walk (default 20,000). */
  maxPostings?: number;
  /** How long the column's lexeme statistics and a user's row count are reused (default 5 min). */
  statsTtlMs?: number;
}

interface TermStats {
  /**
   * The common lexemes and their frequencies as PostgreSQL array literals, built once per refresh:
   * as JS arrays the driver escaped ~1,000 elements again on every query (1.4 s of a chat bench
   * worker's 51 busy seconds).
   */
  words: string;
  freqs: string;
  /** The frequency assumed for a lexeme not among the common ones. */
  other: number;
  /** The table's rows when ANALYZE last counted them. */
  tableRows: number;
}

/** A lexeme not among the common ones is rarer than the rarest of them; assume a quarter of it. */
const OTHER_SHARE = 0.25;
/** The rarest lexeme alone may expect this many times `maxMatches`, else a query has no lexical hits. */
const RAREST_FACTOR = 20;

export class PgLexicalIndex implements LexicalIndex {
  private readonly orm: MikroORM;
  private readonly maxMatches: number;
  private readonly maxPostings: number;
  private readonly statsTtlMs: number;
  private stats: { value: Promise<TermStats>; at: number } | null = null;
  private readonly userRows: LRUCache<string, { value: Promise<number>; at: number }>;

  constructor(orm: MikroORM, options: LexicalIndexOptions = {}) {
    this.orm = orm;
    this.maxMatches = options.maxMatches ?? 1000;
    this.maxPostings = options.maxPostings ?? 20_000;
    this.statsTtlMs = options.statsTtlMs ?? 5 * 60_000;
    this.userRows = new LRUCache({ max: 10_000 });
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

  /** The column's common lexemes (cached; refreshed in the background once stale). */
  private termStats(): Promise<TermStats> {
    const now = Date.now();
    if (this.stats && now - this.stats.at < this.statsTtlMs) return this.stats.value;
    const previous = this.stats?.value;
    const value = this.query<{ w: string; f: number; table_rows: number }>(STATS_SQL, []).then((rows) => {
      const freqs = rows.map((r) => Number(r.f));
      const floor = freqs.length > 0 ? Math.min(...freqs) : 0;
      const tableRows = Math.max(0, Number(rows[0]?.table_rows ?? 0));
      return {
        words: textArrayLiteral(rows.map((r) => r.w)),
        freqs: arrayLiteral(freqs.map(String)),
        other: floor * OTHER_SHARE,
        tableRows,
      };
    });
    const entry = { value, at: now };
    this.stats = entry;
    value.catch(() => {
      if (this.stats === entry) this.stats = null;
    });
    // while a refresh runs, the statistics already known serve
    return previous ? value.catch(() => previous) : value;
  }

  /** The user's rows, for the expected matches (cached like the statistics: an estimate). */
  private rowsOf(userId: string): Promise<number> {
    const now = Date.now();
    const cached = this.userRows.get(userId);
    if (cached && now - cached.at < this.statsTtlMs) return cached.value;
    const value = this.query<{ n: number }>('SELECT count(*)::int AS n FROM chunk_terms WHERE user_id = $1', [
      userId,
    ]).then((rows) => rows[0]?.n ?? 0);
    const entry = { value, at: now };
    this.userRows.set(userId, entry);
    value.catch(() => {
      if (this.userRows.get(userId) === entry) this.userRows.delete(userId);
    });
    return cached ? value.catch(() => cached.value) : value;
  }

  async search(userId: string, query: string, options: LexicalSearchOptions): Promise<LexicalHit[]> {
    if (options.limit <= 0 || !query.trim()) return [];
    const [stats, rows] = await Promise.all([this.termStats(), this.rowsOf(userId)]);
    const hits = await this.query<HitRow>(SEARCH_SQL, [
      query.replaceAll('\u0000', ' '),
      userId,
      options.limit,
      options.embeddingModel ?? null,
      stats.words,
      stats.freqs,
      stats.other,
      rows,
      this.maxMatches,
      this.maxMatches * RAREST_FACTOR,
      stats.tableRows,
      this.maxPostings,
    ]);
    return hits.map((r) => ({
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

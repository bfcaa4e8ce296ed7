import type { MikroORM } from '@mikro-orm/postgresql';
import type {
  BuildMode,
  ChunkAssignment,
  ClusterRow,
  EntityRow,
  MemorySnapshot,
  MemoryStage,
  RelationRow,
  TopicRow,
} from '../../ports/memory.ts';
import { chunkIndexOf, parseChunkId } from '../../ports/memory.ts';
import type {
  EntityCursor,
  EntityFilter,
  EntityMention,
  MemoryRepository,
  MemoryVersionRow,
} from '../../ports/memory-repository.ts';

// The PostgreSQL mirror of L1 memory (MEMORY-TRAINING.md A7). Plain SQL: a publish writes up to
// ~100k rows per table, and the reads sit behind GraphQL dataloaders. The bulk inserts go to the
// driver with bind parameters, one array per column zipped by `unnest`: MikroORM's `execute`
// inlines every value as an escaped literal, which took half of a 100k-row publish.

type Db = ReturnType<MikroORM['em']['getConnection']>;
type Tx = Parameters<Db['execute']>[3];
type Row = Record<string, unknown>;
type Value = string | number | boolean | null;

/** Rows per INSERT. */
const BATCH = 20_000;
const DATA_TABLES = [
  'memory_topics',
  'memory_clusters',
  'memory_chunk_assignments',
  'memory_entities',
  'memory_entity_mentions',
  'memory_relations',
] as const;

/** A PostgreSQL text array literal (`{"a","b\\"c"}`): a list column travels as one per row. */
function textArray(items: readonly string[]): string {
  return `{${items.map((s) => `"${s.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/** `$1`-style SQL with bind parameters, on the transaction's connection (Kysely underneath); the rows it changed. */
async function bound(db: Db, tx: Tx, sql: string, parameters: unknown[]): Promise<number> {
  const compiled = {
    sql,
    parameters,
    query: { kind: 'RawNode', sqlFragments: [sql], parameters: [] },
    queryId: { queryId: 'memory-bulk-insert' },
  };
  const executor = (tx ?? db.getClient()) as unknown as {
    executeQuery(query: typeof compiled): Promise<{ numAffectedRows?: bigint }>;
  };
  const result = await executor.executeQuery(compiled);
  return Number(result.numAffectedRows ?? 0);
}

interface Column<R> {
  name: string;
  /** The element type: `text`, `int`, `float8`, `bool`, `timestamptz`, or `text[]` (a list per row). */
  type: string;
  get(row: R): Value | readonly string[];
}

async function insertRows<R>(
  db: Db,
  tx: Tx,
  table: string,
  head: { userId: string; version: string },
  columns: Column<R>[],
  rows: readonly R[],
): Promise<void> {
  const names = ['user_id', 'version', ...columns.map((c) => c.name)].join(', ');
  // a list column is unnested as text (each an array literal) and cast back per row
  const arrays = columns.map((c, i) => `$${i + 3}::${c.type === 'text[]' ? 'text' : c.type}[]`).join(', ');
  const selects = columns.map((c, i) => (c.type === 'text[]' ? `c${i}::text[]` : `c${i}`)).join(', ');
  const aliases = columns.map((_, i) => `c${i}`).join(', ');
  const sql = `INSERT INTO ${table} (${names}) SELECT $1, $2, ${selects} FROM unnest(${arrays}) AS t(${aliases})`;
  for (let start = 0; start < rows.length; start += BATCH) {
    const slice = rows.slice(start, start + BATCH);
    const params = columns.map((c) =>
      slice.map((r) => {
        const v = c.get(r);
        if (Array.isArray(v)) return textArray(v);
        return typeof v === 'number' && !Number.isFinite(v) ? 0 : v;
      }),
    );
    await bound(db, tx, sql, [head.userId, head.version, ...params]);
  }
}

const topicColumns: Column<TopicRow>[] = [
  { name: 'topic_id', type: 'text', get: (r) => r.topicId },
  { name: 'parent_id', type: 'text', get: (r) => r.parentId },
  { name: 'depth', type: 'int', get: (r) => r.depth },
  { name: 'label', type: 'text', get: (r) => r.label },
  { name: 'summary', type: 'text', get: (r) => r.summary },
  { name: 'keywords', type: 'text[]', get: (r) => r.keywords },
  { name: 'cluster_ids', type: 'text[]', get: (r) => r.clusterIds },
  { name: 'size', type: 'int', get: (r) => r.size },
];
const clusterColumns: Column<ClusterRow>[] = [
  { name: 'cluster_id', type: 'text', get: (r) => r.clusterId },
  { name: 'topic_id', type: 'text', get: (r) => r.topicId },
  { name: 'size', type: 'int', get: (r) => r.size },
  { name: 'label', type: 'text', get: (r) => r.label },
  { name: 'summary', type: 'text', get: (r) => r.summary },
  { name: 'keywords', type: 'text[]', get: (r) => r.keywords },
  { name: 'label_source', type: 'text', get: (r) => r.labelSource },
  { name: 'representative_chunk_ids', type: 'text[]', get: (r) => r.representativeChunkIds },
  { name: 'cohesion', type: 'float8', get: (r) => r.cohesion },
  { name: 'subjective_share', type: 'float8', get: (r) => r.subjectiveShare },
];
/** The assignment columns; `topicOf` gives a cluster's depth-0 topic (a column, not stored on the rows). */
const assignmentColumnsOf = (topicOf: (clusterId: string) => string | null): Column<ChunkAssignment>[] => [
  { name: 'chunk_id', type: 'text', get: (r) => r.chunkId },
  { name: 'document_id', type: 'text', get: (r) => r.documentId },
  { name: 'chunk_index', type: 'int', get: (r) => r.chunkIndex },
  { name: 'text_sha', type: 'text', get: (r) => r.textSha },
  { name: 'created_at', type: 'timestamptz', get: (r) => r.createdAt },
  { name: 'cluster_id', type: 'text', get: (r) => r.clusterId },
  { name: 'topic_id', type: 'text', get: (r) => topicOf(r.clusterId) },
  { name: 'similarity', type: 'float8', get: (r) => r.similarity },
  { name: 'is_outlier', type: 'bool', get: (r) => r.isOutlier },
  { name: 'perspective', type: 'text', get: (r) => r.perspective },
];
const entityColumns: Column<EntityRow>[] = [
  { name: 'entity_id', type: 'text', get: (r) => r.id },
  { name: 'title', type: 'text', get: (r) => r.title },
  { name: 'type', type: 'text', get: (r) => r.type },
  { name: 'description', type: 'text', get: (r) => r.description },
  { name: 'text_unit_ids', type: 'text[]', get: (r) => r.textUnitIds },
  { name: 'document_ids', type: 'text[]', get: (r) => r.documentIds },
  { name: 'mention_count', type: 'int', get: (r) => r.mentionCount },
  { name: 'source', type: 'text', get: (r) => r.source },
];
const mentionColumns: Column<EntityMention>[] = [
  { name: 'entity_id', type: 'text', get: (r) => r.entityId },
  { name: 'chunk_id', type: 'text', get: (r) => r.chunkId },
  { name: 'document_id', type: 'text', get: (r) => r.documentId },
  { name: 'chunk_index', type: 'int', get: (r) => r.chunkIndex },
];
const relationColumns: Column<RelationRow>[] = [
  { name: 'relation_id', type: 'text', get: (r) => r.id },
  { name: 'source', type: 'text', get: (r) => r.source },
  { name: 'target', type: 'text', get: (r) => r.target },
  { name: 'description', type: 'text', get: (r) => r.description },
  { name: 'weight', type: 'float8', get: (r) => r.weight },
  { name: 'text_unit_ids', type: 'text[]', get: (r) => r.textUnitIds },
];

/**
 * Which of `placed` are equal to the previous version's rows (so PostgreSQL can copy them from
 * that version), and the previous chunk ids not to copy (changed or gone).
 */
async function diffAssignments(
  placed: readonly ChunkAssignment[],
  topicOf: (clusterId: string) => string | null,
  previous: MemorySnapshot,
) {
  const prevTop = topTopicOf(previous.topics, previous.clusters);
  const before = chunkIndexOf(previous);
  const fresh: ChunkAssignment[] = [];
  const copied = new Set<string>();
  for (let i = 0; i < placed.length; i++) {
    // a turn for the event loop now and then: 100k rows took it ~150 ms at once
    if (i % 10_000 === 9999) await new Promise((resolve) => setImmediate(resolve));
    const r = placed[i]!;
    const p = before.get(r.chunkId);
    const same =
      p !== undefined &&
      p.clusterId === r.clusterId &&
      (prevTop.get(p.clusterId) ?? null) === topicOf(r.clusterId) &&
      p.similarity === r.similarity &&
      p.isOutlier === r.isOutlier &&
      p.perspective === r.perspective &&
      p.textSha === r.textSha &&
      p.createdAt === r.createdAt &&
      p.documentId === r.documentId &&
      p.chunkIndex === r.chunkIndex;
    if (same) copied.add(r.chunkId);
    else fresh.push(r);
  }
  const excluded = previous.chunks.filter((c) => !copied.has(c.chunkId)).map((c) => c.chunkId);
  return { fresh, copied: copied.size, excluded };
}

/** Each cluster's depth-0 topic: its (deepest) topic's parents walked to the top. */
function topTopicOf(topics: readonly TopicRow[], clusters: readonly ClusterRow[]): Map<string, string> {
  const byId = new Map(topics.map((t) => [t.topicId, t]));
  const out = new Map<string, string>();
  for (const cluster of clusters) {
    let topic = byId.get(cluster.topicId);
    for (let hops = 0; topic?.parentId != null && hops <= topics.length; hops++) {
      const parent = byId.get(topic.parentId);
      if (!parent) break;
      topic = parent;
    }
    if (topic) out.set(cluster.clusterId, topic.topicId);
  }
  return out;
}

/** One mention per (entity, evidence chunk). */
function mentionsOfEntities(entities: readonly EntityRow[]): EntityMention[] {
  const out: EntityMention[] = [];
  for (const entity of entities) {
    for (const chunkId of new Set(entity.textUnitIds)) {
      const parsed = parseChunkId(chunkId);
      if (parsed) out.push({ entityId: entity.id, chunkId, ...parsed });
    }
  }
  return out;
}

const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

function versionOf(r: Row): MemoryVersionRow {
  return {
    userId: String(r.user_id),
    version: String(r.version),
    parent: r.parent == null ? null : String(r.parent),
    mode: r.mode as BuildMode,
    status: r.status as MemoryVersionRow['status'],
    stage: (r.stage ?? null) as MemoryStage | null,
    error: r.error == null ? null : String(r.error),
    counts: (typeof r.counts === 'string'
      ? JSON.parse(r.counts)
      : (r.counts ?? null)) as MemoryVersionRow['counts'],
    createdAt: new Date(r.created_at as string | Date),
    readyAt: r.ready_at == null ? null : new Date(r.ready_at as string | Date),
  };
}

function topicOf(r: Row): TopicRow {
  return {
    topicId: String(r.topic_id),
    parentId: r.parent_id == null ? null : String(r.parent_id),
    depth: Number(r.depth),
    label: String(r.label),
    summary: String(r.summary),
    keywords: strings(r.keywords),
    clusterIds: strings(r.cluster_ids),
    size: Number(r.size),
  };
}

/** Centroids stay in the snapshot (S3); the mirror answers with an empty one. */
function clusterOf(r: Row): ClusterRow {
  return {
    clusterId: String(r.cluster_id),
    topicId: String(r.topic_id),
    size: Number(r.size),
    label: String(r.label),
    summary: String(r.summary),
    keywords: strings(r.keywords),
    labelSource: r.label_source as ClusterRow['labelSource'],
    representativeChunkIds: strings(r.representative_chunk_ids),
    centroid: [],
    cohesion: Number(r.cohesion),
    subjectiveShare: Number(r.subjective_share),
  };
}

function assignmentOf(r: Row): ChunkAssignment {
  return {
    chunkId: String(r.chunk_id),
    documentId: String(r.document_id),
    chunkIndex: Number(r.chunk_index),
    textSha: String(r.text_sha),
    perspective: r.perspective as ChunkAssignment['perspective'],
    createdAt: iso(r.created_at),
    clusterId: String(r.cluster_id),
    similarity: Number(r.similarity),
    isOutlier: r.is_outlier === true,
  };
}

function entityOf(r: Row): EntityRow {
  return {
    id: String(r.entity_id),
    title: String(r.title),
    type: r.type as EntityRow['type'],
    description: String(r.description),
    textUnitIds: strings(r.text_unit_ids),
    documentIds: strings(r.document_ids),
    mentionCount: Number(r.mention_count),
    source: r.source as EntityRow['source'],
  };
}

function relationOf(r: Row): RelationRow {
  return {
    id: String(r.relation_id),
    source: String(r.source),
    target: String(r.target),
    description: String(r.description),
    weight: Number(r.weight),
    textUnitIds: strings(r.text_unit_ids),
  };
}

function inKeyOrder<T>(ids: readonly string[], rows: T[], key: (row: T) => string): (T | null)[] {
  const byId = new Map(rows.map((r) => [key(r), r]));
  return ids.map((id) => byId.get(id) ?? null);
}

export class PgMemoryRepository implements MemoryRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  private get db() {
    return this.orm.em.getConnection();
  }

  async begin(
    userId: string,
    version: string,
    parent: string | null,
    mode: BuildMode,
    status: 'queued' | 'building',
  ): Promise<void> {
    await this.db.execute(
      `INSERT INTO memory_versions (user_id, version, parent, mode, status, stage)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, version) DO UPDATE
         SET parent = EXCLUDED.parent, mode = EXCLUDED.mode, status = EXCLUDED.status,
             stage = COALESCE(EXCLUDED.stage, memory_versions.stage), error = NULL
         WHERE memory_versions.status NOT IN ('ready', 'superseded')`,
      [userId, version, parent, mode, status, status === 'queued' ? 'QUEUED' : null],
      'run',
    );
  }

  async setStage(userId: string, version: string, stage: MemoryStage): Promise<void> {
    await this.db.execute(
      `UPDATE memory_versions SET stage = ?
         WHERE user_id = ? AND version = ? AND status IN ('queued', 'building')`,
      [stage, userId, version],
      'run',
    );
  }

  async publish(userId: string, snapshot: MemorySnapshot, base?: MemorySnapshot | null): Promise<void> {
    const { manifest } = snapshot;
    const version = manifest.version;
    const head = { userId, version };
    await this.orm.em.fork().transactional(async (em) => {
      const tx = em.getTransactionContext() as Tx;
      const db = em.getConnection();
      // two publishes of a user's never interleave (an advisory lock: a row lock on users would
      // hold up the user's uploads, whose foreign key checks share that row)
      await db.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('memory:' || ?, 0))",
        [userId],
        'all',
        tx,
      );
      const [own] = await db.execute<Row[]>(
        'SELECT status FROM memory_versions WHERE user_id = ? AND version = ?',
        [userId, version],
        'all',
        tx,
      );
      // ready already (a retried job), or superseded by a newer one: nothing to do
      if (own && (own.status === 'ready' || own.status === 'superseded')) return;

      for (const table of DATA_TABLES)
        await db.execute(
          `DELETE FROM ${table} WHERE user_id = ? AND version = ?`,
          [userId, version],
          'run',
          tx,
        );
      const top = topTopicOf(snapshot.topics, snapshot.clusters);
      const topicOf = (clusterId: string) => top.get(clusterId) ?? null;
      const assignmentColumns = assignmentColumnsOf(topicOf);
      const placed = snapshot.chunks;
      await insertRows(db, tx, 'memory_topics', head, topicColumns, snapshot.topics);
      await insertRows(db, tx, 'memory_clusters', head, clusterColumns, snapshot.clusters);
      // an update copies its unchanged assignment rows from the version it was built on, inside
      // PostgreSQL, and sends only the rest (at 100k chunks and one new document: 100k rows not
      // sent again); should that version's rows not all be there, every row is sent
      // a turn for the event loop between whole-corpus steps (100k rows each)
      await new Promise((resolve) => setImmediate(resolve));
      const delta =
        base && base.manifest.version !== version ? await diffAssignments(placed, topicOf, base) : null;
      await new Promise((resolve) => setImmediate(resolve));
      let sent: readonly ChunkAssignment[] = placed;
      if (delta && delta.copied > 0) {
        const names = assignmentColumns.map((c) => c.name).join(', ');
        const copied = await bound(
          db,
          tx,
          `INSERT INTO memory_chunk_assignments (user_id, version, ${names})
           SELECT user_id, $2, ${names} FROM memory_chunk_assignments
            WHERE user_id = $1 AND version = $3 AND NOT (chunk_id = ANY($4::text[]))`,
          [userId, version, base!.manifest.version, delta.excluded],
        );
        if (copied === delta.copied) sent = delta.fresh;
        else
          await db.execute(
            'DELETE FROM memory_chunk_assignments WHERE user_id = ? AND version = ?',
            [userId, version],
            'run',
            tx,
          );
      }
      await insertRows(db, tx, 'memory_chunk_assignments', head, assignmentColumns, sent);
      await insertRows(db, tx, 'memory_entities', head, entityColumns, snapshot.entities);
      await insertRows(
        db,
        tx,
        'memory_entity_mentions',
        head,
        mentionColumns,
        mentionsOfEntities(snapshot.entities),
      );
      await insertRows(db, tx, 'memory_relations', head, relationColumns, snapshot.relations);

      const previous = await db.execute<Row[]>(
        `UPDATE memory_versions SET status = 'superseded'
           WHERE user_id = ? AND status = 'ready' RETURNING version`,
        [userId],
        'all',
        tx,
      );
      await db.execute(
        `INSERT INTO memory_versions (user_id, version, parent, mode, status, stage, counts, ready_at)
         VALUES (?, ?, ?, ?, 'ready', 'DONE', ?::jsonb, now())
         ON CONFLICT (user_id, version) DO UPDATE
           SET status = 'ready', stage = 'DONE', error = NULL, counts = EXCLUDED.counts, ready_at = now()`,
        [userId, version, manifest.parent, manifest.mode, JSON.stringify(manifest.counts)],
        'run',
        tx,
      );
      // kept: this version, the one it replaced (a reader mid-request), and builds begun after
      // this one (their rows may be going in now); the rest of the user's rows go
      const keep = [version, ...previous.map((p) => String(p.version))];
      for (const table of DATA_TABLES)
        await db.execute(
          `DELETE FROM ${table} WHERE user_id = ? AND version NOT IN (?)
             AND version NOT IN (
               SELECT v.version FROM memory_versions v, memory_versions mine
                WHERE v.user_id = ? AND mine.user_id = v.user_id AND mine.version = ?
                  AND v.status IN ('queued', 'building') AND v.created_at > mine.created_at)`,
          [userId, keep, userId, version],
          'run',
          tx,
        );
    });
  }

  async markFailed(userId: string, version: string, error: string): Promise<void> {
    await this.db.execute(
      `UPDATE memory_versions SET status = 'failed', stage = 'FAILED', error = ?
         WHERE user_id = ? AND version = ? AND status NOT IN ('ready', 'superseded')`,
      [error.slice(0, 2000), userId, version],
      'run',
    );
  }

  async current(userId: string): Promise<MemoryVersionRow | null> {
    const [row] = await this.db.execute<Row[]>(
      "SELECT * FROM memory_versions WHERE user_id = ? AND status = 'ready'",
      [userId],
    );
    return row ? versionOf(row) : null;
  }

  async latest(userId: string): Promise<MemoryVersionRow | null> {
    const [row] = await this.db.execute<Row[]>(
      'SELECT * FROM memory_versions WHERE user_id = ? ORDER BY created_at DESC, version DESC LIMIT 1',
      [userId],
    );
    return row ? versionOf(row) : null;
  }

  async topics(userId: string, version: string, depth?: number): Promise<TopicRow[]> {
    const rows = await this.db.execute<Row[]>(
      `SELECT * FROM memory_topics WHERE user_id = ? AND version = ?${depth === undefined ? '' : ' AND depth = ?'}
         ORDER BY depth, size DESC, topic_id`,
      [userId, version, ...(depth === undefined ? [] : [depth])],
    );
    return rows.map(topicOf);
  }

  async topicsById(userId: string, version: string, ids: readonly string[]): Promise<(TopicRow | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.execute<Row[]>(
      'SELECT * FROM memory_topics WHERE user_id = ? AND version = ? AND topic_id IN (?)',
      [userId, version, [...ids]],
    );
    return inKeyOrder(ids, rows.map(topicOf), (t) => t.topicId);
  }

  async clustersById(
    userId: string,
    version: string,
    ids: readonly string[],
  ): Promise<(ClusterRow | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.execute<Row[]>(
      'SELECT * FROM memory_clusters WHERE user_id = ? AND version = ? AND cluster_id IN (?)',
      [userId, version, [...ids]],
    );
    return inKeyOrder(ids, rows.map(clusterOf), (c) => c.clusterId);
  }

  async clusterChunks(
    userId: string,
    version: string,
    clusterId: string,
    limit: number,
    after?: { similarity: number; chunkId: string },
  ): Promise<ChunkAssignment[]> {
    const rows = await this.db.execute<Row[]>(
      `SELECT * FROM memory_chunk_assignments
         WHERE user_id = ? AND version = ? AND cluster_id = ?${
           after ? ' AND (similarity < ? OR (similarity = ? AND chunk_id > ?))' : ''
         }
         ORDER BY similarity DESC, chunk_id LIMIT ?`,
      [
        userId,
        version,
        clusterId,
        ...(after ? [after.similarity, after.similarity, after.chunkId] : []),
        limit,
      ],
    );
    return rows.map(assignmentOf);
  }

  async entities(
    userId: string,
    version: string,
    filter: EntityFilter,
    limit: number,
    after?: EntityCursor,
  ): Promise<EntityRow[]> {
    const where = ['user_id = ?', 'version = ?'];
    const params: unknown[] = [userId, version];
    const query = filter.query?.trim().toLowerCase();
    if (query) {
      where.push("lower(title) LIKE ? ESCAPE '\\'");
      params.push(`%${query.replace(/[\\%_]/g, '\\$&')}%`);
    }
    if (filter.type) {
      where.push('type = ?');
      params.push(filter.type);
    }
    if (after) {
      where.push('(mention_count < ? OR (mention_count = ? AND entity_id > ?))');
      params.push(after.mentionCount, after.mentionCount, after.id);
    }
    const rows = await this.db.execute<Row[]>(
      `SELECT * FROM memory_entities WHERE ${where.join(' AND ')}
         ORDER BY mention_count DESC, entity_id LIMIT ?`,
      [...params, limit],
    );
    return rows.map(entityOf);
  }

  async entitiesById(userId: string, version: string, ids: readonly string[]): Promise<(EntityRow | null)[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.execute<Row[]>(
      'SELECT * FROM memory_entities WHERE user_id = ? AND version = ? AND entity_id IN (?)',
      [userId, version, [...ids]],
    );
    return inKeyOrder(ids, rows.map(entityOf), (e) => e.id);
  }

  async mentionsOf(
    userId: string,
    version: string,
    entityIds: readonly string[],
  ): Promise<EntityMention[][]> {
    if (entityIds.length === 0) return [];
    const rows = await this.db.execute<Row[]>(
      `SELECT entity_id, chunk_id, document_id, chunk_index FROM memory_entity_mentions
         WHERE user_id = ? AND version = ? AND entity_id IN (?)
         ORDER BY document_id, chunk_index`,
      [userId, version, [...entityIds]],
    );
    const byEntity = new Map<string, EntityMention[]>();
    for (const r of rows) {
      const mention: EntityMention = {
        entityId: String(r.entity_id),
        chunkId: String(r.chunk_id),
        documentId: String(r.document_id),
        chunkIndex: Number(r.chunk_index),
      };
      const list = byEntity.get(mention.entityId);
      if (list) list.push(mention);
      else byEntity.set(mention.entityId, [mention]);
    }
    return entityIds.map((id) => byEntity.get(id) ?? []);
  }

  async relationsOf(userId: string, version: string, entityIds: readonly string[]): Promise<RelationRow[][]> {
    if (entityIds.length === 0) return [];
    const ids = [...entityIds];
    const rows = await this.db.execute<Row[]>(
      `SELECT * FROM memory_relations
         WHERE user_id = ? AND version = ? AND (source IN (?) OR target IN (?))
         ORDER BY weight DESC, relation_id`,
      [userId, version, ids, ids],
    );
    const byEntity = new Map<string, RelationRow[]>();
    const add = (id: string, relation: RelationRow) => {
      const list = byEntity.get(id);
      if (list) list.push(relation);
      else byEntity.set(id, [relation]);
    };
    for (const r of rows) {
      const relation = relationOf(r);
      add(relation.source, relation);
      if (relation.target !== relation.source) add(relation.target, relation);
    }
    return entityIds.map((id) => byEntity.get(id) ?? []);
  }

  async placementOf(
    userId: string,
    version: string | null,
    chunkIds: readonly string[],
  ): Promise<({ clusterId: string; topicId: string; topicLabel: string; clusterLabel: string } | null)[]> {
    if (chunkIds.length === 0) return [];
    const rows = await this.db.execute<Row[]>(
      `SELECT a.chunk_id, a.cluster_id, a.topic_id, t.label AS topic_label, c.label AS cluster_label
         FROM memory_chunk_assignments a
         JOIN memory_clusters c ON c.user_id = a.user_id AND c.version = a.version AND c.cluster_id = a.cluster_id
         JOIN memory_topics t ON t.user_id = a.user_id AND t.version = a.version AND t.topic_id = a.topic_id
         WHERE a.user_id = ? AND a.chunk_id IN (?)
           AND a.version = COALESCE(?::text,
             (SELECT v.version FROM memory_versions v WHERE v.user_id = a.user_id AND v.status = 'ready'))`,
      [userId, [...chunkIds], version],
    );
    const byChunk = new Map(
      rows.map((r) => [
        String(r.chunk_id),
        {
          clusterId: String(r.cluster_id),
          topicId: String(r.topic_id),
          topicLabel: String(r.topic_label),
          clusterLabel: String(r.cluster_label),
        },
      ]),
    );
    return chunkIds.map((id) => byChunk.get(id) ?? null);
  }
}

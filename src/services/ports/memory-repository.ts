import type {
  BuildMode,
  ChunkAssignment,
  ClusterRow,
  EntityRow,
  EntityType,
  MemorySnapshot,
  MemoryStage,
  RelationRow,
  TopicRow,
} from './memory.ts';

// Port for the PostgreSQL mirror of L1 memory (MEMORY-TRAINING.md A7): the rows GraphQL reads.
// Each version's rows are written while it is `building`, then one transaction makes it the
// user's `ready` version; the previous ready version's rows are kept (for a reader mid-request)
// and older ones removed. Every method takes the tenant explicitly.

export type MemoryVersionStatus = 'queued' | 'building' | 'ready' | 'failed' | 'superseded';

export interface MemoryVersionRow {
  userId: string;
  version: string;
  parent: string | null;
  mode: BuildMode;
  status: MemoryVersionStatus;
  stage: MemoryStage | null;
  error: string | null;
  counts: MemorySnapshot['manifest']['counts'] | null;
  createdAt: Date;
  readyAt: Date | null;
}

export interface EntityFilter {
  /** Case-insensitive substring of the title. */
  query?: string;
  type?: EntityType;
}

/** Keyset position in the entity list (most mentioned first, then id). */
export interface EntityCursor {
  mentionCount: number;
  id: string;
}

export interface EntityMention {
  entityId: string;
  chunkId: string;
  documentId: string;
  chunkIndex: number;
}

export interface MemoryRepository {
  /**
   * Records a build, queued (rebuildMemory) or starting (a job). Idempotent: a retried job moves
   * its own version back to `building`. Never touches a version that is already `ready`.
   */
  begin(
    userId: string,
    version: string,
    parent: string | null,
    mode: BuildMode,
    status: 'queued' | 'building',
  ): Promise<void>;
  /** The stage a build has reached (shown as `MemoryBuildRunning.stage`). */
  setStage(userId: string, version: string, stage: MemoryStage): Promise<void>;
  /**
   * Writes every row of the snapshot under its version (bulk `unnest` inserts), then in one
   * transaction marks it `ready` and the previous ready version `superseded`, and removes rows of
   * versions older than that one. A version already ready is left as it is (idempotent).
   * `previous`, the snapshot the version was built on: rows equal to its are copied from that
   * version's rows inside the database instead of sent again.
   */
  publish(userId: string, snapshot: MemorySnapshot, previous?: MemorySnapshot | null): Promise<void>;
  markFailed(userId: string, version: string, error: string): Promise<void>;
  /** The user's ready version, or null before the first build. */
  current(userId: string): Promise<MemoryVersionRow | null>;
  /** The newest version row of any status (a build in progress or failed). */
  latest(userId: string): Promise<MemoryVersionRow | null>;
  /** Topics of the version; `depth` narrows to one level. Ordered by depth, size desc, id. */
  topics(userId: string, version: string, depth?: number): Promise<TopicRow[]>;
  /** In key order; unknown ids → null. One query. */
  topicsById(userId: string, version: string, ids: readonly string[]): Promise<(TopicRow | null)[]>;
  /** In key order; unknown ids → null. One query. */
  clustersById(userId: string, version: string, ids: readonly string[]): Promise<(ClusterRow | null)[]>;
  /** Members of a cluster, most similar first, keyset after (similarity, chunkId). */
  clusterChunks(
    userId: string,
    version: string,
    clusterId: string,
    limit: number,
    after?: { similarity: number; chunkId: string },
  ): Promise<ChunkAssignment[]>;
  entities(
    userId: string,
    version: string,
    filter: EntityFilter,
    limit: number,
    after?: EntityCursor,
  ): Promise<EntityRow[]>;
  /** In key order; unknown ids → null. One query. */
  entitiesById(userId: string, version: string, ids: readonly string[]): Promise<(EntityRow | null)[]>;
  /** Mentions of each entity, in key order. One query. */
  mentionsOf(userId: string, version: string, entityIds: readonly string[]): Promise<EntityMention[][]>;
  /** Relations touching each entity (as source or target), in key order. One query. */
  relationsOf(userId: string, version: string, entityIds: readonly string[]): Promise<RelationRow[][]>;
  /**
   * The topic (depth 0) and cluster of each chunk in `version` (null: the ready version), in key
   * order; unassigned → null. One query: the chat path asks it for every reply.
   */
  placementOf(
    userId: string,
    version: string | null,
    chunkIds: readonly string[],
  ): Promise<({ clusterId: string; topicId: string; topicLabel: string; clusterLabel: string } | null)[]>;
}

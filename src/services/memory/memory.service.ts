import { DomainError, NotFoundError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { DocumentRecord } from '../ports/document.ts';
import type { EventBus } from '../ports/event-bus.ts';
import type { JobPayloads, JobQueue, JobRun } from '../ports/job-queue.ts';
import type { Bio, MemoryStage, PerspectiveSetting } from '../ports/memory.ts';
import type {
  EntityCursor,
  EntityFilter,
  MemoryRepository,
  MemoryVersionRow,
} from '../ports/memory-repository.ts';
import type { DocumentsRepository } from '../ports/repositories.ts';
import { memoryKeys } from '../tenant-keys.ts';

/** rebuildMemory while a build of the user's is queued or running. */
export class MemoryBuildRunningError extends DomainError {
  readonly code = 'MEMORY_BUILD_RUNNING';
  readonly version: string;
  readonly stage: MemoryStage | null;
  constructor(version: string, stage: MemoryStage | null) {
    super(`memory version ${version} is already being built${stage ? ` (${stage})` : ''}`);
    this.version = version;
    this.stage = stage;
  }
}

export type MemoryUpdate = JobPayloads['memory-update'];

/** The build pipeline (memory-build.ts), given to the service so reads never load it. */
export interface MemoryBuilder {
  build(payload: MemoryUpdate, run: JobRun & { attempt: number; maxAttempts: number }): Promise<unknown>;
  failed(payload: MemoryUpdate, error: Error, run: JobRun): Promise<void>;
}

export interface MemoryServiceDeps {
  repo: MemoryRepository;
  documents: DocumentsRepository;
  blobs: BlobStore;
  queue: JobQueue;
  events: EventBus;
  builder: MemoryBuilder;
}

export interface MemoryServiceOptions {
  /** How long an update waits for more changes (MEMORY_DEBOUNCE_MS): five quick uploads, one build. */
  debounceMs: number;
}

/** A version id: sortable by time, unique per build. */
export function newVersionId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

/** A user's L1 memory: scheduling builds, and reading the version GraphQL serves (A8). */
export class MemoryService {
  private readonly deps: MemoryServiceDeps;
  private readonly options: MemoryServiceOptions;

  constructor(deps: MemoryServiceDeps, options: MemoryServiceOptions) {
    this.deps = deps;
    this.options = options;
  }

  /** After an ingest DONE or a delete: one build for a burst of changes (debounced per user). */
  async scheduleUpdate(userId: string, reason: MemoryUpdate['reason']): Promise<void> {
    await this.deps.queue.enqueue(
      'memory-update',
      { userId, full: false, reason },
      { debounceKey: `memory-${userId}`, delayMs: this.options.debounceMs },
    );
  }

  /** Queues a build now; refused while one is queued or running. */
  async rebuild(userId: string, full: boolean): Promise<MemoryVersionRow> {
    const latest = await this.deps.repo.latest(userId);
    if (latest && (latest.status === 'queued' || latest.status === 'building'))
      throw new MemoryBuildRunningError(latest.version, latest.stage);
    const current = await this.deps.repo.current(userId);
    const version = newVersionId();
    await this.deps.repo.begin(
      userId,
      version,
      current?.version ?? null,
      full ? 'full' : 'incremental',
      'queued',
    );
    await this.deps.events.publish('memory', userId, {
      version,
      stage: 'QUEUED',
      done: 0,
      total: 1,
      attempt: 1,
      error: null,
    });
    await this.deps.queue.enqueue(
      'memory-update',
      { userId, full, version, reason: 'rebuild' },
      { jobId: `memory-${userId}-${version}` },
    );
    const row = await this.deps.repo.latest(userId);
    if (!row) throw new Error('memory version vanished after it was queued');
    return row;
  }

  /** Overrides whether a document is the person's own words; memory is rebuilt to match. */
  async setPerspective(
    userId: string,
    documentId: string,
    perspective: PerspectiveSetting,
  ): Promise<DocumentRecord> {
    if (!isUuid(documentId)) throw new NotFoundError('document', documentId);
    const updated = await this.deps.documents.setPerspective(userId, documentId, perspective);
    if (!updated) throw new NotFoundError('document', documentId);
    await this.scheduleUpdate(userId, 'perspective');
    return updated;
  }

  current(userId: string) {
    return this.deps.repo.current(userId);
  }

  latest(userId: string) {
    return this.deps.repo.latest(userId);
  }

  /** The version's biography (`memory/l1/{version}/bio.json`), or null when it has none. */
  async bio(userId: string, version: string): Promise<Bio | null> {
    try {
      return JSON.parse(
        (await this.deps.blobs.get(userId, memoryKeys.versionFile(version, 'bio.json'))).toString('utf8'),
      ) as Bio;
    } catch {
      return null;
    }
  }

  topics(userId: string, version: string, depth?: number) {
    return this.deps.repo.topics(userId, version, depth);
  }

  topicsById(userId: string, version: string, ids: readonly string[]) {
    return this.deps.repo.topicsById(userId, version, ids);
  }

  clustersById(userId: string, version: string, ids: readonly string[]) {
    return this.deps.repo.clustersById(userId, version, ids);
  }

  clusterChunks(
    userId: string,
    version: string,
    clusterId: string,
    limit: number,
    after?: { similarity: number; chunkId: string },
  ) {
    return this.deps.repo.clusterChunks(userId, version, clusterId, limit, after);
  }

  entities(userId: string, version: string, filter: EntityFilter, limit: number, after?: EntityCursor) {
    return this.deps.repo.entities(userId, version, filter, limit, after);
  }

  entitiesById(userId: string, version: string, ids: readonly string[]) {
    return this.deps.repo.entitiesById(userId, version, ids);
  }

  mentionsOf(userId: string, version: string, entityIds: readonly string[]) {
    return this.deps.repo.mentionsOf(userId, version, entityIds);
  }

  relationsOf(userId: string, version: string, entityIds: readonly string[]) {
    return this.deps.repo.relationsOf(userId, version, entityIds);
  }

  /** Where each chunk sits in the current memory: the chat prompt names its sources' topics. */
  placementOf(userId: string, chunkIds: readonly string[]) {
    return this.deps.repo.placementOf(userId, null, chunkIds);
  }

  build(payload: MemoryUpdate, run: JobRun) {
    return this.deps.builder.build(payload, run);
  }

  buildFailed(payload: MemoryUpdate, error: Error, run: JobRun) {
    return this.deps.builder.failed(payload, error, run);
  }
}

import { setImmediate as yieldToLoop } from 'node:timers/promises';
import pMap from 'p-map';
import type { Logger } from '../../logger.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { DocumentRecord } from '../ports/document.ts';
import type { EventBus } from '../ports/event-bus.ts';
import type { JobRun } from '../ports/job-queue.ts';
import type { Locks } from '../ports/lock.ts';
import {
  type BuildMode,
  type ChunkExtraction,
  chunkIdOf,
  countsOf,
  type DocumentExtraction,
  type Manifest,
  type MemorySnapshot,
  type MemoryStage,
  PROJECTED_DIMS,
  type TermList,
  termListOf,
} from '../ports/memory.ts';
import type { MemoryRepository } from '../ports/memory-repository.ts';
import type { DocumentsRepository } from '../ports/repositories.ts';
import type { TextModel } from '../ports/text-model.ts';
import type { VectorIndex } from '../ports/vector-index.ts';
import { buildBio } from './bio-builder.ts';
import { assignClusters, type ChunkItem, type ComputePool, churnOf } from './clustering.ts';
import { buildEntities } from './entity-builder.ts';
import { extractDocument, isCurrent, readExtraction } from './extraction-cache.ts';
import { carryOf, labelWorkClusters, type TermCarry } from './labeling.ts';
import { type LexicalSpace, SPARSE_PROJECTION, sketchLexical } from './lexical-space.ts';
import type { MemoryBuilder, MemoryUpdate } from './memory.service.ts';
import { newVersionId } from './memory.service.ts';
import { pruneVersions, readSnapshot, writeSnapshot, writeViews } from './snapshot/snapshot-store.ts';
import { resolvePerspective } from './text/perspective.ts';
import { buildTopics } from './topic-builder.ts';

// One L1 build (MEMORY-TRAINING.md A): per-document extraction (cached) → clustering (a worker
// thread) → labels → entities → hierarchy → bio → snapshot in S3 (manifest last) → the PostgreSQL
// mirror switched in one transaction → the §4 views. Until that switch the previous version is
// served whole, so a build killed at any point leaves memory as it was, and its retry (or the next
// build) starts over from the caches. Builds of one user never overlap (a lock).

export interface MemoryBuildDeps {
  repo: MemoryRepository;
  documents: DocumentsRepository;
  blobs: BlobStore;
  vectors: VectorIndex;
  events: EventBus;
  locks: Locks;
  pool: ComputePool;
  /** The LLM that labels, extracts and writes the bio; null offline. */
  textModel: TextModel | null;
  log: Logger;
}

export interface MemoryBuildOptions {
  seed: number;
  /** Chunks sent to the LLM for entity extraction per build (A3). */
  entityBudget: number;
  llmConcurrency: number;
  /** Embedding model tag of new vectors: a model change forces a full build. */
  embeddingModel: string;
}

export interface MemoryBuildResult {
  version: string;
  mode: BuildMode;
  counts: Manifest['counts'];
  /** Clusters sent to the labeler (LLM or keywords) this build. */
  relabeled: number;
}

/** A full build when more than this share of the chunks changed since the previous version (A6). */
const CHURN_FULL = 0.3;
const LOCK_TTL_MS = 15_000;
const LOCK_WAIT_MS = 20 * 60_000;

/** An extraction as a build uses and a worker holds it: term counts as TermLists. */
type HeldExtraction = Omit<DocumentExtraction<TermList>, 'chunks'> & {
  /** With each chunk's id made once: every build's rows, maps and diffs then share the strings. */
  chunks: (ChunkExtraction<TermList> & { chunkId: string })[];
};

function lighten(e: DocumentExtraction): HeldExtraction {
  return {
    ...e,
    chunks: e.chunks.map((c) => ({
      ...c,
      chunkId: chunkIdOf(e.documentId, c.index),
      terms: termListOf(c.terms),
    })),
  };
}

/** Chunks of parsed extractions a worker holds between builds (the last users it built). */
const HELD_CHUNKS = 150_000;

export class MemoryBuild implements MemoryBuilder {
  private readonly deps: MemoryBuildDeps;
  private readonly options: MemoryBuildOptions;
  /**
   * The extractions of the users this worker built last, parsed: the next build of a user takes
   * them as they are (when still current) instead of reading and parsing each document's cache
   * from S3 again, which at 100k chunks was 14 s of every build. S3 stays the source: another
   * worker, or this one after a restart, reads it there.
   */
  private readonly held = new Map<string, Map<string, HeldExtraction>>();
  /**
   * What the next incremental update of the last version this worker published needs from it:
   * its cluster term sums, its snapshot and its lexical space. Another worker (or this one after
   * a restart) reads the snapshot from S3 and recomputes the rest.
   */
  private carried: {
    userId: string;
    version: string;
    carry: TermCarry | null;
    snapshot: MemorySnapshot;
    lexical: LexicalSpace | null;
  } | null = null;

  constructor(deps: MemoryBuildDeps, options: MemoryBuildOptions) {
    this.deps = deps;
    this.options = options;
  }

  build(payload: MemoryUpdate, run: JobRun): Promise<MemoryBuildResult> {
    // one build of a user at a time; a worker killed mid-build frees the lock within LOCK_TTL_MS
    return this.deps.locks.withLock(`memory:${payload.userId}`, () => this.run(payload, run), {
      ttlMs: LOCK_TTL_MS,
      renew: true,
      waitMs: LOCK_WAIT_MS,
    });
  }

  /** The last attempt failed: the version is marked failed and subscribers are told why. */
  async failed(payload: MemoryUpdate, error: Error, run: JobRun): Promise<void> {
    const latest = await this.deps.repo.latest(payload.userId);
    const version =
      payload.version ??
      (latest && (latest.status === 'building' || latest.status === 'queued') ? latest.version : null);
    if (!version) return;
    await this.deps.repo.markFailed(payload.userId, version, error.message);
    await this.deps.events.publish('memory', payload.userId, {
      version,
      stage: 'FAILED',
      done: 0,
      total: 1,
      attempt: run.attempt,
      error: error.message,
    });
  }

  private async run(payload: MemoryUpdate, run: JobRun): Promise<MemoryBuildResult> {
    const { repo, events, blobs } = this.deps;
    const { userId } = payload;
    const { signal } = run;
    const started = Date.now();
    const current = await repo.current(userId);
    // a debounced update names its version when it starts; a retry of it makes another
    const version = payload.version ?? newVersionId();
    const progress = async (stage: MemoryStage, done = 0, total = 1) => {
      signal.throwIfAborted();
      await Promise.all([
        repo.setStage(userId, version, stage),
        events.publish('memory', userId, { version, stage, done, total, attempt: run.attempt, error: null }),
      ]);
    };
    const docs = await this.deps.documents.listProcessed(userId);
    // nothing to remember and nothing to forget (or the account is gone): no version to make
    if (!docs.length && !current && !payload.version)
      return {
        version: '',
        mode: 'full',
        counts: countsOf({ chunks: [], clusters: [], topics: [], entities: [], relations: [] }),
        relabeled: 0,
      };
    await repo.begin(
      userId,
      version,
      current?.version ?? null,
      payload.full ? 'full' : 'incremental',
      'building',
    );

    // VECTORS: every processed document's extraction, from its cache or made now
    await progress('VECTORS', 0, docs.length);
    const extractions = await this.extractions(userId, docs, signal, (done) =>
      events.publish('memory', userId, {
        version,
        stage: 'VECTORS',
        done,
        total: docs.length,
        attempt: run.attempt,
        error: null,
      }),
    );
    const items = await chunkItems(docs, extractions);
    await yieldToLoop();
    // this worker's last build of the current version, when it was: its snapshot and lexical
    // space are taken from memory instead of S3 and recomputation
    let carried =
      this.carried?.userId === userId && this.carried.version === current?.version ? this.carried : null;
    const previous = current
      ? (carried?.snapshot ?? (await readSnapshot(blobs, userId, current.version)))
      : null;
    // an update that will stay incremental keeps the previous version's lexical weights (a full
    // build, asked for or forced by churn, weighs the corpus anew)
    const reuse =
      !payload.full && previous && carried?.lexical && churnOf(items, previous) <= CHURN_FULL
        ? carried.lexical
        : null;
    // a build that will not reuse them lets go of the carried sums and lexical space now, so the
    // new ones are not made beside them (at 100k chunks a ~1M-term vocabulary and 100k sketches)
    const carry = payload.full ? null : (carried?.carry ?? null);
    if (this.carried && (this.carried.userId !== userId || payload.full || !reuse))
      this.carried = { ...this.carried, carry: this.carried.userId === userId ? carry : null, lexical: null };
    carried = null;
    await yieldToLoop();
    const { sparse, lexical } = await sketchLexical(items, extractions, reuse);
    const projection = sparse
      ? SPARSE_PROJECTION
      : [...new Set(extractions.map((e) => e.projection))].join(',') || 'none';

    // CLUSTERING: incremental when little changed and the vectors are comparable, else full
    await progress('CLUSTERING', 0, items.length);
    const modelChanged =
      previous !== null &&
      (previous.manifest.models.embedding !== this.options.embeddingModel ||
        previous.manifest.models.projection !== projection);
    const clustering = await assignClusters(this.deps.pool, items, previous, {
      seed: this.options.seed,
      full: payload.full || previous === null || modelChanged,
      churnFull: CHURN_FULL,
      sparse,
    });

    // LABELING: keywords always; the LLM (or the offline label) only where membership moved
    await progress('LABELING', 0, clustering.clusters.length);
    const labels = await labelWorkClusters(
      { blobs, pool: this.deps.pool, textModel: this.deps.textModel, log: run.log },
      userId,
      items,
      clustering.clusters,
      {
        concurrency: this.options.llmConcurrency,
        signal,
        incremental: clustering.mode === 'incremental',
        carry: clustering.mode === 'incremental' ? carry : null,
      },
    );

    // ENTITIES: the LLM's extraction within its budget (cached), compromise's for the rest
    await progress('ENTITIES');
    const { entities, relations } = await buildEntities(
      { blobs, textModel: this.deps.textModel, log: run.log },
      userId,
      docs,
      extractions,
      {
        budgetChunks: this.options.entityBudget,
        concurrency: this.options.llmConcurrency,
        signal,
        subjective: new Set(items.filter((i) => i.perspective === 'subjective').map((i) => i.documentId)),
      },
    );

    // HIERARCHY: topics over the centroids, ids kept by matching the previous version's
    await progress('HIERARCHY');
    const { topics, clusterRows } = await buildTopics(
      this.deps.pool,
      items,
      clustering.clusters,
      labels,
      previous,
      {
        textModel: this.deps.textModel,
        concurrency: this.options.llmConcurrency,
        signal,
        incremental: clustering.mode === 'incremental',
      },
    );

    // BIO: subjective material only
    await progress('BIO');
    const bio = await buildBio(
      { blobs, textModel: this.deps.textModel, log: run.log },
      userId,
      version,
      items,
      clusterRows,
      topics,
      entities,
      signal,
    );

    await progress('WRITING');
    const tables = {
      // the rows as they are (a copy of 100k rows per build was garbage for the next major GC)
      chunks: clustering.assignments,
      clusters: clusterRows,
      topics,
      entities,
      relations,
    };
    const snapshot: MemorySnapshot = {
      manifest: {
        version,
        parent: current?.version ?? null,
        mode: clustering.mode,
        createdAt: new Date().toISOString(),
        params: {
          projectedDims: PROJECTED_DIMS,
          k: clusterRows.length,
          silhouette: clustering.silhouette,
          pool: clustering.pooled,
          churn: clustering.churn,
          entityBudget: this.options.entityBudget,
          buildMs: Date.now() - started,
        },
        seed: this.options.seed,
        counts: countsOf(tables),
        models: {
          embedding: this.options.embeddingModel,
          projection,
          labeler: labels.model,
          extractor: this.deps.textModel ? `llm:${this.deps.textModel.name}+compromise` : 'compromise',
          bio: bio.generatedBy === 'llm' ? `llm:${this.deps.textModel?.name}` : 'offline',
        },
      },
      ...tables,
      bio,
    };
    signal.throwIfAborted();
    await yieldToLoop();
    await writeSnapshot(blobs, userId, snapshot, (columns) => this.deps.pool.run('parquet', { columns }));
    await yieldToLoop();
    await repo.publish(userId, snapshot, previous);
    await yieldToLoop();
    this.carried = {
      userId,
      version,
      carry: carryOf(labels.terms, clustering.clusters),
      snapshot,
      lexical,
    };
    await writeViews(blobs, userId, snapshot);
    // S3 keeps this version and the one before it (a reader mid-request may still be on it)
    await pruneVersions(blobs, userId, [version, ...(current ? [current.version] : [])]).catch(
      (error: Error) =>
        run.log.warn(
          { userId, err: error.message },
          'memory: old snapshots not pruned; the next build retries',
        ),
    );
    await events.publish('memory', userId, {
      version,
      stage: 'DONE',
      done: items.length,
      total: items.length,
      attempt: run.attempt,
      error: null,
    });
    run.log.info(
      { userId, version, mode: clustering.mode, chunks: items.length, ms: Date.now() - started },
      'memory version published',
    );
    return { version, mode: clustering.mode, counts: snapshot.manifest.counts, relabeled: labels.relabeled };
  }

  /** Each document's cached extraction, or a new one; documents that changed mid-build are skipped. */
  private async extractions(
    userId: string,
    docs: readonly DocumentRecord[],
    signal: AbortSignal,
    onProgress: (done: number) => Promise<unknown>,
  ): Promise<HeldExtraction[]> {
    let done = 0;
    let lastReport = Date.now();
    const held = this.held.get(userId);
    const out = await pMap(
      docs,
      async (doc) => {
        signal.throwIfAborted();
        const kept = held?.get(doc.id);
        const cached =
          kept && isCurrent(kept, doc, this.options.seed)
            ? kept
            : await readExtraction(this.deps.blobs, userId, doc.id);
        const current =
          cached && isCurrent(cached, doc, this.options.seed)
            ? cached
            : await extractDocument(this.deps, userId, doc, this.options.seed);
        const extraction = current === kept ? kept : current && lighten(current as DocumentExtraction);
        done++;
        if (Date.now() - lastReport > 500) {
          lastReport = Date.now();
          await onProgress(done);
        }
        return extraction;
      },
      { concurrency: 8 },
    );
    const extractions = out.filter((e): e is HeldExtraction => e !== null);
    this.hold(userId, extractions);
    return extractions;
  }

  /** Keeps the user's extractions (most recent user last), dropping the oldest users past HELD_CHUNKS. */
  private hold(userId: string, extractions: readonly HeldExtraction[]) {
    this.held.delete(userId);
    this.held.set(userId, new Map(extractions.map((e) => [e.documentId, e])));
    const chunksOf = (m: Map<string, HeldExtraction>) => {
      let n = 0;
      for (const e of m.values()) n += e.chunks.length;
      return n;
    };
    let total = 0;
    for (const m of this.held.values()) total += chunksOf(m);
    for (const [user, m] of this.held) {
      if (total <= HELD_CHUNKS || this.held.size === 1) break;
      total -= chunksOf(m);
      this.held.delete(user);
    }
  }
}

/** Every chunk of the build, sorted by chunk id (k-means is seeded on this order). */
async function chunkItems(
  docs: readonly DocumentRecord[],
  extractions: readonly HeldExtraction[],
): Promise<ChunkItem[]> {
  const byId = new Map(docs.map((d) => [d.id, d]));
  const items: ChunkItem[] = [];
  for (const [n, ex] of extractions.entries()) {
    if (n % 200 === 199) await yieldToLoop();
    const doc = byId.get(ex.documentId)!;
    let firstPerson = 0;
    let words = 0;
    for (const c of ex.chunks) {
      firstPerson += c.firstPerson;
      words += c.words;
    }
    const perspective = resolvePerspective({ kind: doc.kind, setting: doc.perspective, firstPerson, words });
    for (const c of ex.chunks) {
      items.push({
        chunkId: c.chunkId,
        documentId: doc.id,
        chunkIndex: c.index,
        textSha: c.textSha,
        perspective,
        createdAt: ex.createdAt,
        projected: c.projected,
        terms: c.terms,
      });
    }
  }
  return items.sort((a, b) => (a.chunkId < b.chunkId ? -1 : a.chunkId > b.chunkId ? 1 : 0));
}

import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type {
  BuildMode,
  ChunkAssignment,
  ClusterRow,
  MemorySnapshot,
  Perspective,
  TermList,
} from '../ports/memory.ts';
import { chunkIndexOf, PROJECTED_DIMS } from '../ports/memory.ts';
import type { ComputePool } from './compute/compute-pool.ts';
import { percentile } from './compute/incremental.ts';
import { matchByJaccard } from './compute/matching.ts';
import { type SparseRows, subsetRows } from './compute/sparse-kmeans.ts';

// Which cluster each chunk belongs to, and which clusters keep their id and label (A1, A6). A
// full build clusters every chunk anew and matches the new clusters to the old ones by Jaccard
// overlap; an incremental one keeps every untouched chunk where it was, sends new chunks to the
// nearest centroid close enough, and clusters the rest (the pool) on their own. The maths runs in
// the compute pool's thread. The lexical embedder's chunks come with their sparse tf·idf rows
// (`sparse`, one per item): those are clustered, assigned and scored on the rows; the dense
// sketches still give the stored centroids (hierarchy) and the representatives.

export type { ComputePool };

export interface ChunkItem {
  chunkId: string;
  documentId: string;
  chunkIndex: number;
  textSha: string;
  perspective: Perspective;
  createdAt: string;
  /** PROJECTED_DIMS values: the document's projected vector, or the lexical sketch (a Float32Array). */
  projected: ArrayLike<number>;
  terms: TermList;
}

/** A cluster of this build: its members (indexes into the items) and what it inherits. */
export interface WorkCluster {
  id: string;
  members: number[];
  centroid: Float32Array;
  cohesion: number;
  /** The previous version's row for this id (label, summary, keywords), when kept or matched. */
  previous: ClusterRow | null;
  /** Membership moved enough (≥ 20 %) that the label is made again (A6). */
  relabel: boolean;
  /** Exactly the members of the previous version's cluster of this id: what was derived from them can be kept. */
  unchanged: boolean;
}

/** A snapshot row, and its cluster's index in the build's clusters. */
export type WorkAssignment = ChunkAssignment & { cluster: number };

export interface ClusteringResult {
  mode: BuildMode;
  clusters: WorkCluster[];
  assignments: WorkAssignment[];
  silhouette: { k: number; score: number }[];
  /** New chunks no cluster was close enough to (incremental builds). */
  pooled: number;
  /** Share of chunks added or removed since the previous version. */
  churn: number;
}

const D = PROJECTED_DIMS;
const RELABEL_MOVED = 0.2;
const POOL_FULL = 0.1;
const MIN_CLUSTER = 3;
const OUTLIER_PERCENTILE = 5;

/** A copy for the compute pool, which detaches the buffers it is given. */
const copyRows = (rows: SparseRows): SparseRows => ({
  offsets: rows.offsets.slice(),
  ids: rows.ids.slice(),
  vals: rows.vals.slice(),
  n: rows.n,
  dims: rows.dims,
});

export function clusterIdOf(memberIds: readonly string[]): string {
  let min = memberIds[0] ?? '';
  for (const id of memberIds) if (id < min) min = id;
  return `c-${createHash('sha1').update(min).digest('hex').slice(0, 12)}`;
}

function matrix(items: readonly ChunkItem[], indexes?: readonly number[]): Float32Array {
  const rows = indexes ?? items.map((_, i) => i);
  const out = new Float32Array(rows.length * D);
  rows.forEach((r, i) => {
    out.set(items[r]!.projected, i * D);
  });
  return out;
}

function dot(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number): number {
  let s = 0;
  for (let j = 0; j < D; j++) s += a[aOff + j]! * b[bOff + j]!;
  return s;
}

/** The unit mean of the members' vectors. */
function centroidOf(items: readonly ChunkItem[], members: readonly number[]): Float32Array {
  const c = new Float32Array(D);
  for (const m of members) {
    const v = items[m]!.projected;
    for (let j = 0; j < D; j++) c[j]! += v[j]!;
  }
  let norm = 0;
  for (let j = 0; j < D; j++) norm += c[j]! * c[j]!;
  norm = Math.sqrt(norm) || 1;
  for (let j = 0; j < D; j++) c[j]! /= norm;
  return c;
}

export async function assignClusters(
  pool: ComputePool,
  items: readonly ChunkItem[],
  previous: MemorySnapshot | null,
  options: { seed: number; full: boolean; churnFull: number; sparse?: SparseRows | null },
): Promise<ClusteringResult> {
  const sparse = options.sparse ?? null;
  if (items.length === 0) {
    return {
      mode: options.full ? 'full' : 'incremental',
      clusters: [],
      assignments: [],
      silhouette: [],
      pooled: 0,
      churn: 0,
    };
  }
  if (!options.full && previous && previous.clusters.length > 0) {
    const incremental = await incrementalClusters(pool, items, previous, { ...options, sparse });
    if (incremental) return incremental;
  }
  return fullClusters(pool, items, previous, options.seed, sparse);
}

/** Leaf clusters of the items `indexes` (all of them when omitted), sparse or dense. */
function leafClusters(
  pool: ComputePool,
  items: readonly ChunkItem[],
  sparse: SparseRows | null,
  seed: number,
  indexes?: readonly number[],
) {
  if (sparse)
    return pool.run('sparseCluster', {
      rows: indexes ? subsetRows(sparse, indexes) : copyRows(sparse),
      seed,
    });
  const n = indexes ? indexes.length : items.length;
  return pool.run('cluster', { points: matrix(items, indexes), n, d: D, seed });
}

async function fullClusters(
  pool: ComputePool,
  items: readonly ChunkItem[],
  previous: MemorySnapshot | null,
  seed: number,
  sparse: SparseRows | null,
): Promise<ClusteringResult> {
  const n = items.length;
  let groups: number[][];
  let silhouette: { k: number; score: number }[] = [];
  if (n < MIN_CLUSTER * 2) {
    groups = [items.map((_, i) => i)];
  } else {
    const result = await leafClusters(pool, items, sparse, seed);
    silhouette = result.silhouette;
    groups = Array.from({ length: result.k }, () => [] as number[]);
    for (let i = 0; i < n; i++) groups[result.assignment[i]!]!.push(i);
    groups = groups.filter((g) => g.length > 0);
  }
  const prevRows = new Map(previous?.clusters.map((c) => [c.clusterId, c]) ?? []);
  const prevMembers = new Map<string, string[]>();
  for (const a of previous?.chunks ?? []) {
    const list = prevMembers.get(a.clusterId) ?? [];
    list.push(a.chunkId);
    prevMembers.set(a.clusterId, list);
  }
  const memberIds = groups.map((g) => g.map((i) => items[i]!.chunkId));
  const matched = prevMembers.size ? matchByJaccard(prevMembers, memberIds, 0.5) : memberIds.map(() => null);
  const clusters = groups.map((members, c): WorkCluster => {
    const oldId = matched[c] ?? null;
    const old = oldId ? (prevRows.get(oldId) ?? null) : null;
    let relabel = true;
    let unchanged = false;
    if (old && oldId) {
      const before = new Set(prevMembers.get(oldId));
      const now = new Set(memberIds[c]);
      let moved = 0;
      for (const id of now) if (!before.has(id)) moved++;
      for (const id of before) if (!now.has(id)) moved++;
      relabel = moved / Math.max(before.size, 1) >= RELABEL_MOVED;
      unchanged = moved === 0;
    }
    return {
      id: oldId ?? clusterIdOf(memberIds[c]!),
      members,
      centroid: centroidOf(items, members),
      cohesion: 0,
      previous: old,
      relabel,
      unchanged,
    };
  });
  return finish(
    pool,
    items,
    sparse,
    clusters,
    'full',
    silhouette,
    0,
    previous ? churnOf(items, previous) : 1,
    null,
  );
}

export function churnOf(items: readonly ChunkItem[], previous: MemorySnapshot): number {
  const prev = chunkIndexOf(previous);
  let changed = 0;
  let kept = 0;
  for (const item of items) {
    const before = prev.get(item.chunkId);
    if (before === undefined) changed++;
    else {
      kept++;
      if (before.textSha !== item.textSha) changed++;
    }
  }
  // previous chunks no item has any more
  changed += prev.size - kept;
  return changed / Math.max(prev.size, 1);
}

/** Null when the change is too large for an incremental update (A6: then a full build). */
async function incrementalClusters(
  pool: ComputePool,
  items: readonly ChunkItem[],
  previous: MemorySnapshot,
  options: { seed: number; churnFull: number; sparse: SparseRows | null },
): Promise<ClusteringResult | null> {
  const { sparse } = options;
  const churn = churnOf(items, previous);
  if (churn > options.churnFull) return null;
  // at 100k chunks each of these whole-corpus steps holds the loop for tens of milliseconds:
  // the job's event loop gets a turn between them
  await yieldToLoop();
  const prevByChunk = chunkIndexOf(previous);
  const clusterIndex = new Map(previous.clusters.map((c, i) => [c.clusterId, i]));
  const k = previous.clusters.length;
  const members: number[][] = Array.from({ length: k }, () => []);
  const keptSims: number[][] = Array.from({ length: k }, () => []);
  const outlier = new Map<number, boolean>();
  const added: number[] = [];
  items.forEach((item, i) => {
    const old = prevByChunk.get(item.chunkId);
    const c = old && old.textSha === item.textSha ? clusterIndex.get(old.clusterId) : undefined;
    if (old && c !== undefined) {
      members[c]!.push(i);
      keptSims[c]!.push(old.similarity);
      outlier.set(i, old.isOutlier);
    } else added.push(i);
  });
  const before = previous.clusters.map((c) => c.size);
  // members kept per previous cluster: the rest of its members are gone (deleted or changed)
  const keptCount = members.map((m) => m.length);
  // new chunks join the nearest cluster when at least as close as its 10th-percentile member
  let pooledItems: number[] = [];
  if (added.length) {
    const centroids = new Float32Array(k * D);
    previous.clusters.forEach((c, i) => {
      centroids.set(c.centroid, i * D);
    });
    const thresholds = Float32Array.from(keptSims, (sims) => (sims.length ? percentile(sims, 10) : 1));
    const sizes = Int32Array.from(members, (m) => m.length);
    let result: { assignment: Int32Array };
    if (sparse) {
      // the kept members' rows give the centroids the new rows are scored against
      const kept = new Int32Array(items.length).fill(-1);
      members.forEach((list, c) => {
        for (const i of list) kept[i] = c;
      });
      result = await pool.run('sparseAssign', {
        rows: copyRows(sparse),
        assignment: kept,
        k,
        added: Int32Array.from(added),
        thresholds,
      });
    } else
      result = await pool.run('assign', {
        centroids,
        k,
        d: D,
        sizes,
        thresholds,
        points: matrix(items, added),
        n: added.length,
      });
    added.forEach((item, j) => {
      const c = result.assignment[j]!;
      if (c >= 0) members[c]!.push(item);
      else pooledItems.push(item);
    });
  }
  if (pooledItems.length > POOL_FULL * items.length) return null;
  await yieldToLoop();
  const clusters: WorkCluster[] = [];
  previous.clusters.forEach((row, c) => {
    if (members[c]!.length === 0) return;
    const gone = Math.max(0, before[c]! - keptCount[c]!);
    // members that joined plus members that left
    const moved = members[c]!.length - keptCount[c]! + gone;
    clusters.push({
      id: row.clusterId,
      members: members[c]!,
      // the previous centroid until `finish` makes each anew (only the pool's nearest-cluster
      // choices below read it)
      centroid: Float32Array.from(row.centroid),
      cohesion: 0,
      previous: row,
      relabel: moved / Math.max(before[c]!, 1) >= RELABEL_MOVED,
      unchanged: moved === 0,
    });
  });
  // the pool: its own clusters when there are enough of it, else the nearest cluster regardless
  if (pooledItems.length >= MIN_CLUSTER * 2) {
    const result = await leafClusters(pool, items, sparse, options.seed, pooledItems);
    const groups: number[][] = Array.from({ length: result.k }, () => []);
    pooledItems.forEach((item, j) => {
      groups[result.assignment[j]!]!.push(item);
    });
    for (const g of groups.filter((x) => x.length)) {
      clusters.push({
        id: clusterIdOf(g.map((i) => items[i]!.chunkId)),
        members: g,
        centroid: centroidOf(items, g),
        cohesion: 0,
        previous: null,
        relabel: true,
        unchanged: false,
      });
    }
    pooledItems = [];
  }
  const pooled = added.length ? pooledItems.length : 0;
  for (const item of pooledItems) {
    const target = nearest(items, clusters, item);
    target.members.push(item);
    target.unchanged = false;
  }
  mergeTiny(items, clusters);
  await yieldToLoop();
  const outlierCut = percentile(
    previous.chunks.map((c) => c.similarity),
    OUTLIER_PERCENTILE,
  );
  return finish(pool, items, sparse, clusters, 'incremental', [], pooled, churn, {
    outlier,
    cut: outlierCut,
  });
}

function nearest(
  items: readonly ChunkItem[],
  clusters: readonly WorkCluster[],
  item: number,
  skip?: WorkCluster,
) {
  let best = clusters[0]!;
  let bestSim = -2;
  for (const c of clusters) {
    if (c === skip) continue;
    const s = dot(items[item]!.projected, 0, c.centroid, 0);
    if (s > bestSim) {
      bestSim = s;
      best = c;
    }
  }
  return best;
}

/** Clusters left with fewer than 3 members (after deletes) join their nearest neighbour (A1). */
function mergeTiny(items: readonly ChunkItem[], clusters: WorkCluster[]) {
  for (let i = clusters.length - 1; i >= 0 && clusters.length > 1; i--) {
    const c = clusters[i]!;
    if (c.members.length >= MIN_CLUSTER) continue;
    clusters.splice(i, 1);
    for (const m of c.members) {
      const target = nearest(items, clusters, m);
      target.members.push(m);
      target.unchanged = false;
      target.relabel ||= target.previous === null;
    }
  }
}

/** Final centroids, similarities, outliers and cohesion; clusters in a stable order. */
async function finish(
  pool: ComputePool,
  items: readonly ChunkItem[],
  sparse: SparseRows | null,
  clusters: WorkCluster[],
  mode: BuildMode,
  silhouette: { k: number; score: number }[],
  pooled: number,
  churn: number,
  kept: { outlier: Map<number, boolean>; cut: number } | null,
): Promise<ClusteringResult> {
  clusters.sort((a, b) => b.members.length - a.members.length || (a.id < b.id ? -1 : 1));
  let similarity: Float32Array = new Float32Array(items.length);
  const cluster = new Int32Array(items.length);
  for (let ci = 0; ci < clusters.length; ci++) {
    const c = clusters[ci]!;
    c.members.sort((a, b) => a - b);
    // an unchanged cluster's centroid is its previous one (the same members and vectors)
    c.centroid =
      c.unchanged && c.previous ? Float32Array.from(c.previous.centroid) : centroidOf(items, c.members);
    // the sparse rows' similarities come from the compute thread below
    for (const m of c.members) {
      if (!sparse) similarity[m] = dot(items[m]!.projected, 0, c.centroid, 0);
      cluster[m] = ci;
    }
    if (ci % 25 === 24) await yieldToLoop();
  }
  await yieldToLoop();
  if (sparse)
    similarity = await pool.run('sparseSimilarity', {
      rows: copyRows(sparse),
      assignment: cluster.slice(),
      k: clusters.length,
    });
  for (const c of clusters) {
    let sum = 0;
    for (const m of c.members) sum += similarity[m]!;
    c.cohesion = sum / c.members.length;
  }
  const cut = kept?.cut ?? percentile(Array.from(similarity), OUTLIER_PERCENTILE);
  await yieldToLoop();
  const assignments = items.map(
    (item, i): WorkAssignment => ({
      chunkId: item.chunkId,
      documentId: item.documentId,
      chunkIndex: item.chunkIndex,
      textSha: item.textSha,
      perspective: item.perspective,
      createdAt: item.createdAt,
      clusterId: clusters[cluster[i]!]!.id,
      cluster: cluster[i]!,
      similarity: Math.round(similarity[i]! * 1e4) / 1e4,
      isOutlier: kept?.outlier.get(i) ?? similarity[i]! < cut,
    }),
  );
  return { mode, clusters, assignments, silhouette, pooled, churn };
}

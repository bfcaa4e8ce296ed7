// Incremental L1 updates (MEMORY-TRAINING A6): new chunks join an existing cluster only when they
// are as close to it as its own members usually are, so a document about something new lands in
// the pool (and, past 10 %, triggers a full rebuild) instead of diluting an unrelated cluster.
import { dotRows, normaliseInto, percentile } from './numeric.ts';

export { percentile };

export interface ExistingClusters {
  /** k×d unit centroids. */
  centroids: Float32Array;
  k: number;
  d: number;
  /** Members per cluster before this update. */
  sizes: ArrayLike<number>;
  /** Per cluster, the least similarity a newcomer needs (callers pass the members' p10). */
  thresholds: ArrayLike<number>;
}

export interface IncrementalAssignment {
  /** Cluster index per point, −1 when no cluster is close enough (the pool). */
  assignment: Int32Array;
  /** Similarity to the (updated) centroid of its cluster; for pooled points, to the nearest one. */
  similarity: Float32Array;
  /** Running means of old members and newcomers, renormalised. */
  centroids: Float32Array;
  sizes: Int32Array;
}

export function assignToExisting(
  existing: ExistingClusters,
  points: Float32Array,
  n: number,
): IncrementalAssignment {
  const { centroids: old, k, d, sizes: oldSizes, thresholds } = existing;
  const assignment = new Int32Array(n).fill(-1);
  const similarity = new Float32Array(n);
  const sums = new Float64Array(k * d);
  const sizes = Int32Array.from({ length: k }, (_, c) => oldSizes[c] ?? 0);
  for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) sums[c * d + j] = old[c * d + j]! * sizes[c]!;
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let bestC = -1;
    for (let c = 0; c < k; c++) {
      const s = dotRows(points, i, old, c, d);
      if (s > best) {
        best = s;
        bestC = c;
      }
    }
    similarity[i] = best;
    if (bestC < 0 || best < (thresholds[bestC] ?? Infinity)) continue;
    assignment[i] = bestC;
    sizes[bestC]!++;
    for (let j = 0; j < d; j++) sums[bestC * d + j]! += points[i * d + j]!;
  }
  const centroids = Float32Array.from(old.subarray(0, k * d));
  for (let c = 0; c < k; c++)
    if (sizes[c] !== (oldSizes[c] ?? 0)) normaliseInto(sums, c * d, centroids, c * d, d);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    if (c >= 0) similarity[i] = dotRows(points, i, centroids, c, d);
  }
  return { assignment, similarity, centroids, sizes };
}

/** Normalised member means; an empty cluster (every member deleted) gets a zero row. */
export function centroidsOf(
  points: Float32Array,
  n: number,
  d: number,
  assignment: ArrayLike<number>,
  k: number,
): Float32Array {
  const sums = new Float64Array(k * d);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    if (c < 0 || c >= k) continue;
    for (let j = 0; j < d; j++) sums[c * d + j]! += points[i * d + j]!;
  }
  const centroids = new Float32Array(k * d);
  for (let c = 0; c < k; c++) normaliseInto(sums, c * d, centroids, c * d, d);
  return centroids;
}

export interface ClusterStat {
  size: number;
  /** Mean member similarity to the centroid (0 for an empty cluster). */
  cohesion: number;
  /** 10th-percentile member similarity: the threshold a newcomer must reach (NaN when empty). */
  p10: number;
}

/** Per cluster size, cohesion and p10, against centroids recomputed from the members. */
export function clusterStats(
  points: Float32Array,
  n: number,
  d: number,
  assignment: ArrayLike<number>,
  k: number,
  centroids: Float32Array = centroidsOf(points, n, d, assignment, k),
): ClusterStat[] {
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    if (c >= 0 && c < k) members[c]!.push(dotRows(points, i, centroids, c, d));
  }
  return members.map((sims) => ({
    size: sims.length,
    cohesion: sims.length ? sims.reduce((a, b) => a + b, 0) / sims.length : 0,
    p10: percentile(sims, 10),
  }));
}

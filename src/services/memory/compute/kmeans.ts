// Leaf clusters of L1 memory (MEMORY-TRAINING A1): seeded spherical k-means over unit vectors,
// k chosen by cosine silhouette, outliers flagged and tiny clusters folded into their neighbour.
// Everything is deterministic given the seed and the (caller-sorted) input order, so a rebuild of
// an unchanged corpus gives the same clusters. Points are flat n×d row-major unit vectors.
import {
  deriveSeed,
  dotRows,
  gatherRows,
  mulberry32,
  normaliseInto,
  percentile,
  sampleIndexes,
  weightedPick,
} from './numeric.ts';

export interface KMeansOptions {
  seed: number;
  maxIter?: number;
  fitSample?: number;
  /** Start Lloyd from these k×d centroids instead of seeding (a warm start). */
  init?: Float32Array;
}

export interface KMeansResult {
  centroids: Float32Array;
  assignment: Int32Array;
  similarity: Float32Array;
}

export interface SilhouetteScore {
  k: number;
  score: number;
}

export interface LeafClustering extends KMeansResult {
  k: number;
  isOutlier: Uint8Array;
  silhouette: SilhouetteScore[];
}

/**
 * Assigns every row of `points` to its most similar centroid; returns how many assignments
 * changed. Four centroids per pass over a point: each point value is loaded once for four
 * products, about twice as fast as one dot product at a time in V8.
 */
function assignNearest(
  points: Float32Array,
  n: number,
  d: number,
  centroids: Float32Array,
  k: number,
  assignment: Int32Array,
  similarity: Float32Array,
): number {
  let changed = 0;
  const k4 = k - (k % 4);
  for (let i = 0; i < n; i++) {
    const po = i * d;
    let best = -Infinity;
    let bestC = 0;
    for (let c = 0; c < k4; c += 4) {
      const c0 = c * d;
      const c1 = c0 + d;
      const c2 = c1 + d;
      const c3 = c2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < d; j++) {
        const x = points[po + j]!;
        s0 += x * centroids[c0 + j]!;
        s1 += x * centroids[c1 + j]!;
        s2 += x * centroids[c2 + j]!;
        s3 += x * centroids[c3 + j]!;
      }
      if (s0 > best) {
        best = s0;
        bestC = c;
      }
      if (s1 > best) {
        best = s1;
        bestC = c + 1;
      }
      if (s2 > best) {
        best = s2;
        bestC = c + 2;
      }
      if (s3 > best) {
        best = s3;
        bestC = c + 3;
      }
    }
    for (let c = k4; c < k; c++) {
      const s = dotRows(points, i, centroids, c, d);
      if (s > best) {
        best = s;
        bestC = c;
      }
    }
    if (assignment[i] !== bestC) changed++;
    assignment[i] = bestC;
    similarity[i] = best;
  }
  return changed;
}

/** out[i·kc + c] = points_i · C_c, four rows of C per pass over a point like `assignNearest`. */
function allDots(
  points: Float32Array,
  m: number,
  d: number,
  C: Float32Array,
  kc: number,
  out: Float32Array,
): void {
  const k4 = kc - (kc % 4);
  for (let i = 0; i < m; i++) {
    const po = i * d;
    const oo = i * kc;
    for (let c = 0; c < k4; c += 4) {
      const c0 = c * d;
      const c1 = c0 + d;
      const c2 = c1 + d;
      const c3 = c2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < d; j++) {
        const x = points[po + j]!;
        s0 += x * C[c0 + j]!;
        s1 += x * C[c1 + j]!;
        s2 += x * C[c2 + j]!;
        s3 += x * C[c3 + j]!;
      }
      out[oo + c] = s0;
      out[oo + c + 1] = s1;
      out[oo + c + 2] = s2;
      out[oo + c + 3] = s3;
    }
    for (let c = k4; c < kc; c++) out[oo + c] = dotRows(points, i, C, c, d);
  }
}

/**
 * Greedy k-means++ tries several D²-drawn seeds per step (as scikit-learn does), and small fits
 * are restarted, where m·k says that is cheap: small corpora are where a wrong k shows most.
 */
const SMALL_FIT = 100_000;
const GREEDY_BUDGET = 2_000_000;
const seedTrials = (m: number, k: number) =>
  m * k <= SMALL_FIT ? 8 : m * k <= GREEDY_BUDGET ? 2 + Math.floor(Math.log(k)) : 1;

/**
 * k-means++ with cosine distance (1 − cos is proportional to the squared distance of unit
 * vectors). In 128 dims a cluster's own points are far apart too, so plain k-means++ often seeds
 * one cluster twice; the greedy variant keeps the draw that lowers the potential most.
 */
function seedCentroids(points: Float32Array, m: number, d: number, k: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const centroids = new Float32Array(k * d);
  const trials = seedTrials(m, k);
  const weight = new Float64Array(m).fill(Infinity);
  const candidates = new Float32Array(trials * d);
  const sims = new Float32Array(m * trials);
  const picks = new Int32Array(trials);
  let total = Infinity;
  const draw = () => weightedPick(weight, total, rand);
  for (let c = 0; c < k; c++) {
    const tries = c === 0 ? 1 : trials;
    for (let t = 0; t < tries; t++) {
      picks[t] = draw();
      candidates.set(points.subarray(picks[t]! * d, picks[t]! * d + d), t * d);
    }
    allDots(points, m, d, candidates, tries, sims);
    let best = 0;
    let bestTotal = Infinity;
    for (let t = 0; t < tries; t++) {
      let sum = 0;
      for (let i = 0; i < m; i++) sum += Math.min(weight[i]!, Math.max(0, 1 - sims[i * tries + t]!));
      if (sum < bestTotal) {
        bestTotal = sum;
        best = t;
      }
    }
    centroids.set(candidates.subarray(best * d, best * d + d), c * d);
    for (let i = 0; i < m; i++) weight[i] = Math.min(weight[i]!, Math.max(0, 1 - sims[i * tries + best]!));
    total = bestTotal;
  }
  return centroids;
}

/** Normalised member sums; an empty cluster takes the next farthest point that is not already a seed. */
function updateCentroids(
  points: Float32Array,
  m: number,
  d: number,
  k: number,
  assignment: Int32Array,
  similarity: Float32Array,
  centroids: Float32Array,
): void {
  const sums = new Float64Array(k * d);
  const sizes = new Int32Array(k);
  for (let i = 0; i < m; i++) {
    const c = assignment[i]!;
    sizes[c]!++;
    const so = c * d;
    const po = i * d;
    for (let j = 0; j < d; j++) sums[so + j]! += points[po + j]!;
  }
  let farthest: number[] | null = null;
  let next = 0;
  for (let c = 0; c < k; c++) {
    if (sizes[c]! > 0 && normaliseInto(sums, c * d, centroids, c * d, d)) continue;
    farthest ??= Array.from({ length: m }, (_, i) => i).sort(
      (a, b) => similarity[a]! - similarity[b]! || a - b,
    );
    const p = farthest[next++ % m]!;
    centroids.set(points.subarray(p * d, p * d + d), c * d);
    similarity[p] = 1;
  }
}

/** Lloyd iterations on `m` contiguous points from seeded k-means++ centroids. */
function lloydOnce(
  points: Float32Array,
  m: number,
  d: number,
  k: number,
  seed: number,
  maxIter: number,
  init?: Float32Array,
  scored = false,
) {
  const centroids = init ? init.slice(0, k * d) : seedCentroids(points, m, d, k, seed);
  const assignment = new Int32Array(m).fill(-1);
  const similarity = new Float32Array(m);
  for (let iter = 0; iter < maxIter; iter++) {
    const changed = assignNearest(points, m, d, centroids, k, assignment, similarity);
    if (iter > 0 && changed < 0.001 * m) break;
    updateCentroids(points, m, d, k, assignment, similarity, centroids);
  }
  if (!scored) return { centroids, fit: 0 };
  assignNearest(points, m, d, centroids, k, assignment, similarity);
  let fit = 0;
  for (let i = 0; i < m; i++) fit += similarity[i]!;
  return { centroids, fit };
}

/** The best of a few seeded runs on small fits, one run otherwise. */
function lloyd(
  points: Float32Array,
  m: number,
  d: number,
  k: number,
  seed: number,
  maxIter: number,
  init?: Float32Array,
) {
  if (init) return lloydOnce(points, m, d, k, seed, maxIter, init).centroids;
  const runs = m * k <= SMALL_FIT ? 3 : 1;
  if (runs === 1) return lloydOnce(points, m, d, k, seed, maxIter).centroids;
  let best = lloydOnce(points, m, d, k, seed, maxIter, undefined, true);
  for (let r = 1; r < runs; r++) {
    const run = lloydOnce(points, m, d, k, deriveSeed(seed, r), maxIter, undefined, true);
    if (run.fit > best.fit) best = run;
  }
  return best.centroids;
}

/** Spherical k-means fitted on a seeded sample of at most `fitSample` points, then applied to all. */
export function sphericalKMeans(
  points: Float32Array,
  n: number,
  d: number,
  k: number,
  { seed, maxIter = 15, fitSample = 20_000, init }: KMeansOptions,
): KMeansResult {
  const m = Math.min(n, Math.max(1, fitSample));
  const kk = init ? init.length / d : Math.max(1, Math.min(k, m));
  const assignment = new Int32Array(n);
  const similarity = new Float32Array(n);
  if (n === 0) return { centroids: new Float32Array(0), assignment, similarity };
  const fit = n > m ? gatherRows(points, d, sampleIndexes(n, m, deriveSeed(seed, 1))) : points;
  const centroids = lloyd(fit, m, d, kk, deriveSeed(seed, 2), maxIter, init);
  assignNearest(points, n, d, centroids, kk, assignment, similarity);
  return { centroids, assignment, similarity };
}

/** Mean cosine silhouette of the sample points, from their precomputed pairwise similarities. */
export function silhouetteOfSample(sims: Float32Array, s: number, labels: Int32Array, k: number): number {
  const counts = new Int32Array(k);
  for (let i = 0; i < s; i++) counts[labels[i]!]!++;
  const dist = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < s; i++) {
    const own = labels[i]!;
    if (counts[own]! <= 1) continue;
    dist.fill(0);
    const row = i * s;
    for (let j = 0; j < s; j++) dist[labels[j]!]! += 1 - sims[row + j]!;
    const a = dist[own]! / (counts[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) {
      if (c !== own && counts[c]! > 0) b = Math.min(b, dist[c]! / counts[c]!);
    }
    if (b === Infinity) continue;
    const scale = Math.max(a, b);
    if (scale > 0) total += (b - a) / scale;
  }
  return s === 0 ? 0 : total / s;
}

function pairwiseSimilarities(sample: Float32Array, s: number, d: number): Float32Array {
  const sims = new Float32Array(s * s);
  for (let i = 0; i < s; i++) {
    sims[i * s + i] = 1;
    for (let j = i + 1; j < s; j++) {
      const v = dotRows(sample, i, sample, j, d);
      sims[i * s + j] = v;
      sims[j * s + i] = v;
    }
  }
  return sims;
}

/** Cosine silhouette of `assignment` measured on the points `sampleIdx` (keep it ≤ 2,000). */
export function silhouette(
  points: Float32Array,
  n: number,
  d: number,
  assignment: Int32Array,
  k: number,
  sampleIdx: ArrayLike<number>,
): number {
  const idx = Array.from(sampleIdx).filter((i) => i >= 0 && i < n);
  const sample = gatherRows(points, d, idx);
  const labels = Int32Array.from(idx, (i) => assignment[i]!);
  return silhouetteOfSample(pairwiseSimilarities(sample, idx.length, d), idx.length, labels, k);
}

export interface ChooseKOptions {
  seed: number;
  /** Points scored by silhouette. */
  silhouetteSample?: number;
  /** Points each candidate k is fitted on; the chosen k is refitted on more afterwards. */
  candidateSample?: number;
  /** Lloyd iterations per candidate: a wrong k never settles, and ranking needs no full fit. */
  candidateMaxIter?: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export function candidateKs(n: number): { kStar: number; candidates: number[] } {
  const kStar = clamp(Math.round(n / 50), 2, 300);
  const ks = new Set([Math.round(kStar / 2), kStar, 2 * kStar].map((k) => clamp(k, 2, n - 1)));
  if (n <= 600) for (let k = 2; k <= Math.min(15, Math.floor(n / 3)); k++) ks.add(k);
  return { kStar: clamp(kStar, 2, n - 1), candidates: [...ks].sort((a, b) => a - b) };
}

/**
 * k* = clamp(round(n/50), 2, 300); candidates k* ÷ 2, k*, 2k* (every k up to 15 for small corpora)
 * are fitted on a small sample and scored on a 2,000-point silhouette sample; k* wins ties of 0.01.
 */
export function chooseK(
  points: Float32Array,
  n: number,
  d: number,
  { seed, silhouetteSample = 2_000, candidateSample = 5_000, candidateMaxIter = 10 }: ChooseKOptions,
): { k: number; scores: SilhouetteScore[]; centroids?: Float32Array } {
  if (n < 3) return { k: Math.min(n, 1), scores: [] };
  const { kStar, candidates } = candidateKs(n);
  const fitIdx = sampleIndexes(n, candidateSample, deriveSeed(seed, 3));
  const fit = fitIdx.length === n ? points : gatherRows(points, d, fitIdx);
  const evalIdx = sampleIndexes(n, silhouetteSample, deriveSeed(seed, 4));
  const evalPoints = gatherRows(points, d, evalIdx);
  const s = evalIdx.length;
  const sims = pairwiseSimilarities(evalPoints, s, d);
  const labels = new Int32Array(s);
  const labelSims = new Float32Array(s);
  const scores: SilhouetteScore[] = [];
  const fits = new Map<number, Float32Array>();
  for (const k of candidates) {
    const { centroids } = sphericalKMeans(fit, fitIdx.length, d, k, {
      seed: deriveSeed(seed, 10 + k),
      maxIter: candidateMaxIter,
      fitSample: fitIdx.length,
    });
    fits.set(k, centroids);
    const kk = centroids.length / d;
    assignNearest(evalPoints, s, d, centroids, kk, labels.fill(-1), labelSims);
    scores.push({ k, score: silhouetteOfSample(sims, s, labels, kk) });
  }
  let best = scores[0]!;
  for (const score of scores) if (score.score > best.score) best = score;
  const star = scores.find((score) => score.k === kStar);
  const k = star && star.score >= best.score - 0.01 ? kStar : best.k;
  return { k, scores, centroids: fits.get(k) };
}

export interface ClusterLeavesOptions extends ChooseKOptions {
  fitSample?: number;
  maxIter?: number;
}

/** Fewer members than this and a cluster is folded into the nearest other one. */
const MIN_CLUSTER_SIZE = 3;
const OUTLIER_PERCENTILE = 5;

/** chooseK, fit, fold tiny clusters, flag outliers, renumber clusters by their first member. */
export function clusterLeaves(
  points: Float32Array,
  n: number,
  d: number,
  options: ClusterLeavesOptions,
): LeafClustering {
  const { seed, fitSample = 20_000, maxIter = 15 } = options;
  const chosen = chooseK(points, n, d, options);
  if (chosen.k === 0) {
    return {
      k: 0,
      centroids: new Float32Array(0),
      assignment: new Int32Array(0),
      similarity: new Float32Array(0),
      isOutlier: new Uint8Array(0),
      silhouette: chosen.scores,
    };
  }
  // the chosen candidate's centroids (fitted on the smaller sample) warm-start the final fit
  const fitted = sphericalKMeans(points, n, d, chosen.k, {
    seed: deriveSeed(seed, 5),
    maxIter,
    fitSample,
    init: chosen.centroids,
  });
  const { assignment, centroids } = fitted;
  const k0 = centroids.length / d;
  const sizes = new Int32Array(k0);
  const sums = new Float64Array(k0 * d);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    sizes[c]!++;
    for (let j = 0; j < d; j++) sums[c * d + j]! += points[i * d + j]!;
  }
  const target = Int32Array.from({ length: k0 }, (_, c) => c);
  let alive = 0;
  for (let c = 0; c < k0; c++) if (sizes[c]! > 0) alive++;
  while (alive > 1) {
    let small = -1;
    for (let c = 0; c < k0; c++) {
      if (sizes[c]! > 0 && sizes[c]! < MIN_CLUSTER_SIZE && (small < 0 || sizes[c]! < sizes[small]!))
        small = c;
    }
    if (small < 0) break;
    let into = -1;
    let best = -Infinity;
    for (let c = 0; c < k0; c++) {
      if (c === small || sizes[c] === 0) continue;
      const s = dotRows(centroids, small, centroids, c, d);
      if (s > best) {
        best = s;
        into = c;
      }
    }
    for (let j = 0; j < d; j++) sums[into * d + j]! += sums[small * d + j]!;
    normaliseInto(sums, into * d, centroids, into * d, d);
    sizes[into]! += sizes[small]!;
    sizes[small] = 0;
    for (let c = 0; c < k0; c++) if (target[c] === small) target[c] = into;
    alive--;
  }
  const renumber = new Int32Array(k0).fill(-1);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const c = target[assignment[i]!]!;
    if (renumber[c] === -1) renumber[c] = k++;
  }
  const finalCentroids = new Float32Array(k * d);
  for (let c = 0; c < k0; c++) {
    const to = renumber[c]!;
    if (to >= 0) finalCentroids.set(centroids.subarray(c * d, c * d + d), to * d);
  }
  const finalAssignment = new Int32Array(n);
  const similarity = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = renumber[target[assignment[i]!]!]!;
    finalAssignment[i] = c;
    similarity[i] = dotRows(points, i, finalCentroids, c, d);
  }
  const cutoff = percentile(similarity, OUTLIER_PERCENTILE);
  const isOutlier = Uint8Array.from(similarity, (s) => (s < cutoff ? 1 : 0));
  return {
    k,
    centroids: finalCentroids,
    assignment: finalAssignment,
    similarity,
    isOutlier,
    silhouette: chosen.scores,
  };
}

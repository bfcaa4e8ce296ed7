// Leaf clusters of the offline lexical embedder's chunks (MEMORY-TRAINING A1): spherical k-means
// on each chunk's sparse tf·idf row instead of a dense 128-dim sketch. Hashing thousands of
// topic words into 128 dims made collisions drown what two chunks of a topic share (bench memory:
// purity 0.25 on 200 planted topics); on the sparse rows only shared terms count. Centroids are
// stored term-major (dims × k), so scoring a chunk against every centroid is, per non-zero term,
// one contiguous run over k: ~25 × k multiply-adds a chunk. Same contract as kmeans.ts: seeded,
// deterministic given the (caller-sorted) input order, k chosen by cosine silhouette among
// candidateKs, tiny clusters folded, clusters numbered by their first member, 5th-percentile outliers.
import { candidateKs, type SilhouetteScore, silhouetteOfSample } from './kmeans.ts';
import { deriveSeed, mulberry32, percentile, sampleIndexes, weightedPick } from './numeric.ts';

const MIN_CLUSTER_SIZE = 3;
const OUTLIER_PERCENTILE = 5;

/** Rows in CSR form; every non-empty row has unit norm. Term ids are < dims. */
export interface SparseRows {
  /** n + 1 starts into ids / vals. */
  offsets: Int32Array;
  ids: Int32Array;
  vals: Float32Array;
  n: number;
  dims: number;
}

export interface SparseLeafClustering {
  k: number;
  assignment: Int32Array;
  similarity: Float32Array;
  isOutlier: Uint8Array;
  silhouette: SilhouetteScore[];
}

/** The rows `idx` of `rows`, as a new CSR matrix (same dims). */
export function subsetRows(rows: SparseRows, idx: ArrayLike<number>): SparseRows {
  const offsets = new Int32Array(idx.length + 1);
  let nnz = 0;
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    nnz += rows.offsets[r + 1]! - rows.offsets[r]!;
    offsets[i + 1] = nnz;
  }
  const ids = new Int32Array(nnz);
  const vals = new Float32Array(nnz);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i]!;
    const from = rows.offsets[r]!;
    const to = rows.offsets[r + 1]!;
    ids.set(rows.ids.subarray(from, to), offsets[i]!);
    vals.set(rows.vals.subarray(from, to), offsets[i]!);
  }
  return { offsets, ids, vals, n: idx.length, dims: rows.dims };
}

/**
 * Each row's most similar centroid (term-major `ct`, dims × k); returns how many changed. A row
 * with no terms scores 0 everywhere and goes to cluster 0, as a zero vector does in kmeans.ts.
 */
export function assignSparse(
  rows: SparseRows,
  ct: Float32Array,
  k: number,
  assignment: Int32Array,
  similarity: Float32Array,
): number {
  const { offsets, ids, vals, n } = rows;
  const scores = new Float64Array(k);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    scores.fill(0);
    const end = offsets[i + 1]!;
    for (let e = offsets[i]!; e < end; e++) {
      const w = vals[e]!;
      const base = ids[e]! * k;
      for (let c = 0; c < k; c++) scores[c]! += w * ct[base + c]!;
    }
    let best = scores[0]!;
    let bestC = 0;
    for (let c = 1; c < k; c++) {
      if (scores[c]! > best) {
        best = scores[c]!;
        bestC = c;
      }
    }
    if (assignment[i] !== bestC) changed++;
    assignment[i] = bestC;
    similarity[i] = best;
  }
  return changed;
}

/** Writes row `r` of `rows` as column `c` of the term-major centroids (zeroing the column first). */
function setColumn(rows: SparseRows, r: number, ct: Float32Array, k: number, c: number) {
  for (let t = 0; t < rows.dims; t++) ct[t * k + c] = 0;
  for (let e = rows.offsets[r]!; e < rows.offsets[r + 1]!; e++) ct[rows.ids[e]! * k + c] = rows.vals[e]!;
}

/**
 * Unit mean of each cluster's rows into `ct`; an empty cluster takes the next least similar row
 * (unless `reseed` is false: it stays zero). Rows assigned −1 are left out. Returns the sizes.
 */
export function centroidsSparse(
  rows: SparseRows,
  assignment: Int32Array,
  k: number,
  ct: Float32Array,
  similarity?: Float32Array,
  reseed = true,
): Int32Array {
  const { offsets, ids, vals, n, dims } = rows;
  ct.fill(0);
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    if (c < 0) continue;
    sizes[c]!++;
    for (let e = offsets[i]!; e < offsets[i + 1]!; e++) ct[ids[e]! * k + c]! += vals[e]!;
  }
  const norms = new Float64Array(k);
  for (let t = 0; t < dims; t++) {
    const base = t * k;
    for (let c = 0; c < k; c++) norms[c]! += ct[base + c]! * ct[base + c]!;
  }
  const inv = new Float64Array(k);
  for (let c = 0; c < k; c++) inv[c] = norms[c]! > 0 ? 1 / Math.sqrt(norms[c]!) : 0;
  for (let t = 0; t < dims; t++) {
    const base = t * k;
    for (let c = 0; c < k; c++) ct[base + c]! *= inv[c]!;
  }
  let farthest: number[] | null = null;
  let next = 0;
  for (let c = 0; c < k; c++) {
    if (norms[c]! > 0 || n === 0 || !reseed) continue;
    farthest ??= Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => (similarity?.[a] ?? 0) - (similarity?.[b] ?? 0) || a - b,
    );
    const r = farthest[next++ % n]!;
    setColumn(rows, r, ct, k, c);
    if (similarity) similarity[r] = 1;
  }
  return sizes;
}

/** Cosine similarity of every row to the dense vector `x` (dims long). */
function similaritiesTo(rows: SparseRows, x: Float32Array, out: Float32Array) {
  const { offsets, ids, vals, n } = rows;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let e = offsets[i]!; e < offsets[i + 1]!; e++) s += vals[e]! * x[ids[e]!]!;
    out[i] = s;
  }
}

/** Greedy k-means++ as kmeans.ts seeds (several D²-drawn candidates per step on small fits). */
function seedSparse(rows: SparseRows, k: number, seed: number): Float32Array {
  const { n: m, dims } = rows;
  const rand = mulberry32(seed);
  const ct = new Float32Array(dims * k);
  const trials = m * k <= 100_000 ? 8 : m * k <= 2_000_000 ? 2 + Math.floor(Math.log(k)) : 1;
  const weight = new Float64Array(m).fill(Infinity);
  const dense = new Float32Array(dims);
  const sims = Array.from({ length: trials }, () => new Float32Array(m));
  const picks = new Int32Array(trials);
  let total = Infinity;
  const draw = () => weightedPick(weight, total, rand);
  for (let c = 0; c < k; c++) {
    const tries = c === 0 ? 1 : trials;
    let best = 0;
    let bestTotal = Infinity;
    for (let t = 0; t < tries; t++) {
      const p = draw();
      picks[t] = p;
      for (let e = rows.offsets[p]!; e < rows.offsets[p + 1]!; e++) dense[rows.ids[e]!] = rows.vals[e]!;
      similaritiesTo(rows, dense, sims[t]!);
      for (let e = rows.offsets[p]!; e < rows.offsets[p + 1]!; e++) dense[rows.ids[e]!] = 0;
      let sum = 0;
      const s = sims[t]!;
      for (let i = 0; i < m; i++) sum += Math.min(weight[i]!, Math.max(0, 1 - s[i]!));
      if (sum < bestTotal) {
        bestTotal = sum;
        best = t;
      }
    }
    setColumn(rows, picks[best]!, ct, k, c);
    const s = sims[best]!;
    for (let i = 0; i < m; i++) weight[i] = Math.min(weight[i]!, Math.max(0, 1 - s[i]!));
    total = bestTotal;
  }
  return ct;
}

/** Lloyd iterations from seeded (or given) term-major centroids, then split–merge swaps; returns the centroids. */
function lloydSparse(rows: SparseRows, k: number, seed: number, maxIter: number, init?: Float32Array) {
  const ct = init ? init.slice() : seedSparse(rows, k, seed);
  const assignment = new Int32Array(rows.n).fill(-1);
  const similarity = new Float32Array(rows.n);
  const iterate = (iterations: number) => {
    for (let iter = 0; iter < iterations; iter++) {
      const changed = assignSparse(rows, ct, k, assignment, similarity);
      if (iter > 0 && changed < 0.001 * rows.n) break;
      centroidsSparse(rows, assignment, k, ct, similarity);
    }
  };
  iterate(maxIter);
  for (let round = 0; round < SWAP_ROUNDS; round++) {
    assignSparse(rows, ct, k, assignment, similarity);
    if (!splitMerge(rows, assignment, k)) break;
    centroidsSparse(rows, assignment, k, ct, similarity);
    iterate(Math.max(3, Math.ceil(maxIter / 3)));
  }
  return ct;
}

const SWAP_ROUNDS = 4;

/**
 * Lloyd stops in local optima where one topic holds two seeds and two topics share one. The
 * spherical objective Σ_c ‖Σ members‖ says when a swap pays: splitting a cluster in two (2-means
 * on its members) gains, merging two loses; each split whose gain beats the cheapest merge of two
 * other clusters is made, which keeps k. Returns whether anything changed.
 */
function splitMerge(rows: SparseRows, assignment: Int32Array, k: number): boolean {
  const { offsets, ids, vals, n, dims } = rows;
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) members[assignment[i]!]!.push(i);
  const sums = new Float32Array(dims * k);
  for (let i = 0; i < n; i++) {
    const c = assignment[i]!;
    for (let e = offsets[i]!; e < offsets[i + 1]!; e++) sums[ids[e]! * k + c]! += vals[e]!;
  }
  const sq = new Float64Array(k);
  const gram = new Float64Array(k * k);
  for (let t = 0; t < dims; t++) {
    const base = t * k;
    for (let a = 0; a < k; a++) {
      const x = sums[base + a]!;
      if (x === 0) continue;
      sq[a]! += x * x;
      for (let b = a + 1; b < k; b++) gram[a * k + b]! += x * sums[base + b]!;
    }
  }
  const norm = Float64Array.from(sq, Math.sqrt);
  const merges: { a: number; b: number; loss: number }[] = [];
  for (let a = 0; a < k; a++)
    for (let b = a + 1; b < k; b++) {
      if (!members[a]!.length || !members[b]!.length) continue;
      const joined = Math.sqrt(sq[a]! + sq[b]! + 2 * gram[a * k + b]!);
      merges.push({ a, b, loss: norm[a]! + norm[b]! - joined });
    }
  merges.sort((x, y) => x.loss - y.loss || x.a - y.a || x.b - y.b);
  const splits = members
    .map((m, c) => ({ c, ...splitTwo(rows, m, norm[c]!) }))
    .filter((s) => s.gain > 0)
    .sort((x, y) => y.gain - x.gain || x.c - y.c);
  const used = new Uint8Array(k);
  let changed = false;
  let next = 0;
  for (const split of splits) {
    if (used[split.c]) continue;
    while (next < merges.length && (used[merges[next]!.a] || used[merges[next]!.b])) next++;
    let m = next;
    while (
      m < merges.length &&
      (used[merges[m]!.a] || used[merges[m]!.b] || merges[m]!.a === split.c || merges[m]!.b === split.c)
    )
      m++;
    const merge = merges[m];
    if (!merge || split.gain <= merge.loss) break;
    for (const i of members[merge.b]!) assignment[i] = merge.a;
    for (const i of split.second) assignment[i] = merge.b;
    used[merge.a] = used[merge.b] = used[split.c] = 1;
    changed = true;
  }
  return changed;
}

/** 2-means of a cluster's members (seeded by its two least alike members): the gain in the objective and the second half. */
function splitTwo(
  rows: SparseRows,
  members: readonly number[],
  whole: number,
): { gain: number; second: number[] } {
  if (members.length < 2 * MIN_CLUSTER_SIZE) return { gain: 0, second: [] };
  const { offsets, ids, vals, dims } = rows;
  const a = new Float32Array(dims);
  const b = new Float32Array(dims);
  const dot = (x: Float32Array, i: number) => {
    let s = 0;
    for (let e = offsets[i]!; e < offsets[i + 1]!; e++) s += vals[e]! * x[ids[e]!]!;
    return s;
  };
  const load = (x: Float32Array, i: number) => {
    x.fill(0);
    for (let e = offsets[i]!; e < offsets[i + 1]!; e++) x[ids[e]!] = vals[e]!;
  };
  // the member least like the first, then the member least like that one
  load(a, members[0]!);
  let far = members[0]!;
  for (const i of members) if (dot(a, i) < dot(a, far)) far = i;
  load(a, far);
  let other = far;
  for (const i of members) if (dot(a, i) < dot(a, other)) other = i;
  load(b, other);
  const side = new Uint8Array(members.length);
  let gain = 0;
  for (let iter = 0; iter < 6; iter++) {
    members.forEach((i, j) => {
      side[j] = dot(b, i) > dot(a, i) ? 1 : 0;
    });
    a.fill(0);
    b.fill(0);
    members.forEach((i, j) => {
      const x = side[j] ? b : a;
      for (let e = offsets[i]!; e < offsets[i + 1]!; e++) x[ids[e]!]! += vals[e]!;
    });
    let na = 0;
    let nb = 0;
    for (let t = 0; t < dims; t++) {
      na += a[t]! * a[t]!;
      nb += b[t]! * b[t]!;
    }
    gain = Math.sqrt(na) + Math.sqrt(nb) - whole;
    if (!(na > 0 && nb > 0)) return { gain: 0, second: [] };
    const ia = 1 / Math.sqrt(na);
    const ib = 1 / Math.sqrt(nb);
    for (let t = 0; t < dims; t++) {
      a[t]! *= ia;
      b[t]! *= ib;
    }
  }
  const second = members.filter((_, j) => side[j]);
  if (second.length < MIN_CLUSTER_SIZE || members.length - second.length < MIN_CLUSTER_SIZE)
    return { gain: 0, second: [] };
  return { gain, second };
}

export interface SparseKMeansOptions {
  seed: number;
  maxIter?: number;
  fitSample?: number;
  /** Term-major dims × k centroids to start Lloyd from. */
  init?: Float32Array;
}

/** Spherical k-means fitted on a seeded sample of at most `fitSample` rows, then applied to all. */
export function sphericalKMeansSparse(
  rows: SparseRows,
  k: number,
  { seed, maxIter = 15, fitSample = 20_000, init }: SparseKMeansOptions,
) {
  const { n, dims } = rows;
  const m = Math.min(n, Math.max(1, fitSample));
  const kk = init ? init.length / dims : Math.max(1, Math.min(k, m));
  const assignment = new Int32Array(n);
  const similarity = new Float32Array(n);
  if (n === 0) return { centroids: new Float32Array(0), k: kk, assignment, similarity };
  const fit = n > m ? subsetRows(rows, sampleIndexes(n, m, deriveSeed(seed, 1))) : rows;
  const centroids = lloydSparse(fit, kk, deriveSeed(seed, 2), maxIter, init);
  assignSparse(rows, centroids, kk, assignment, similarity);
  return { centroids, k: kk, assignment, similarity };
}

/** s × s cosine similarities of the rows (s ≤ a few thousand). */
function pairwiseSparse(rows: SparseRows): Float32Array {
  const s = rows.n;
  const sims = new Float32Array(s * s);
  const dense = new Float32Array(rows.dims);
  const column = new Float32Array(s);
  for (let i = 0; i < s; i++) {
    for (let e = rows.offsets[i]!; e < rows.offsets[i + 1]!; e++) dense[rows.ids[e]!] = rows.vals[e]!;
    similaritiesTo(rows, dense, column);
    for (let e = rows.offsets[i]!; e < rows.offsets[i + 1]!; e++) dense[rows.ids[e]!] = 0;
    sims.set(column, i * s);
    sims[i * s + i] = 1;
  }
  return sims;
}

/** Mean cosine silhouette of `assignment` on the rows `sampleIdx` (keep it ≤ 2,000). */
export function silhouetteSparse(
  rows: SparseRows,
  assignment: Int32Array,
  k: number,
  sampleIdx: ArrayLike<number>,
): number {
  const idx = Array.from(sampleIdx).filter((i) => i >= 0 && i < rows.n);
  const sample = subsetRows(rows, idx);
  const labels = Int32Array.from(idx, (i) => assignment[i]!);
  return silhouetteOfSample(pairwiseSparse(sample), idx.length, labels, k);
}

export interface SparseClusterOptions {
  seed: number;
  silhouetteSample?: number;
  candidateSample?: number;
  candidateMaxIter?: number;
  fitSample?: number;
  maxIter?: number;
}

/**
 * Candidate ks: kmeans.ts's (k* ÷ 2, k*, 2k*) and, between k* ÷ 2 and 2k*, a ladder of steps of
 * 4/3; the best of those is then tried against the midpoints to its neighbours. Sparse fits take
 * seconds at 100k chunks, so the search can be this much finer than the dense one, whose three
 * candidates put 200 planted topics between 150 and 300 (silhouette chose 150: purity ≤ 0.75).
 */
export function sparseCandidateKs(n: number): { kStar: number; candidates: number[] } {
  const { kStar, candidates } = candidateKs(n);
  const ks = new Set(candidates);
  if (n > 600)
    for (let k = Math.round(kStar / 2); k < 2 * kStar; k = Math.round((k * 4) / 3))
      ks.add(Math.min(n - 1, Math.max(2, k)));
  return { kStar, candidates: [...ks].sort((a, b) => a - b) };
}

/** As kmeans.ts chooseK: candidates fitted on a small sample, scored by silhouette, k* wins ties of 0.01. */
export function chooseKSparse(
  rows: SparseRows,
  { seed, silhouetteSample = 2_000, candidateSample = 20_000, candidateMaxIter = 10 }: SparseClusterOptions,
): { k: number; scores: SilhouetteScore[]; centroids?: Float32Array } {
  const { n } = rows;
  if (n < 3) return { k: Math.min(n, 1), scores: [] };
  const { kStar, candidates } = sparseCandidateKs(n);
  const fitIdx = sampleIndexes(n, candidateSample, deriveSeed(seed, 3));
  const fit = fitIdx.length === n ? rows : subsetRows(rows, fitIdx);
  const evalRows = subsetRows(rows, sampleIndexes(n, silhouetteSample, deriveSeed(seed, 4)));
  const s = evalRows.n;
  const sims = pairwiseSparse(evalRows);
  const labels = new Int32Array(s);
  const labelSims = new Float32Array(s);
  const scores: SilhouetteScore[] = [];
  const fits = new Map<number, Float32Array>();
  const score = (k: number) => {
    const fitted = sphericalKMeansSparse(fit, k, {
      seed: deriveSeed(seed, 10 + k),
      maxIter: candidateMaxIter,
      fitSample: fit.n,
    });
    fits.set(k, fitted.centroids);
    assignSparse(evalRows, fitted.centroids, fitted.k, labels.fill(-1), labelSims);
    scores.push({ k, score: silhouetteOfSample(sims, s, labels, fitted.k) });
  };
  const bestOf = () => scores.reduce((a, b) => (b.score > a.score ? b : a));
  // on a large corpus, upwards until the score has fallen twice in a row: past its peak
  // silhouette falls, and the large ks are the expensive fits (a small corpus tries every k: its
  // scores are noisier and its fits cheap)
  let falls = 0;
  for (const k of candidates) {
    if (n > 600 && falls >= 2 && k !== kStar) continue;
    const before = scores.at(-1)?.score ?? -Infinity;
    score(k);
    falls = scores.at(-1)!.score < before ? falls + 1 : 0;
  }
  const tried = scores.map((x) => x.k);
  const ladderBest = bestOf().k;
  const at = tried.indexOf(ladderBest);
  for (const neighbour of [tried[at - 1], tried[at + 1]]) {
    if (neighbour === undefined) continue;
    const mid = Math.round((ladderBest + neighbour) / 2);
    if (!fits.has(mid) && mid >= 2 && mid < n) score(mid);
  }
  scores.sort((a, b) => a.k - b.k);
  const best = bestOf();
  const star = scores.find((x) => x.k === kStar);
  const k = star && star.score >= best.score - 0.01 ? kStar : best.k;
  return { k, scores, centroids: fits.get(k) };
}

/** chooseKSparse, fit, fold tiny clusters, number clusters by their first member, flag outliers. */
export function clusterLeavesSparse(rows: SparseRows, options: SparseClusterOptions): SparseLeafClustering {
  const { n, dims } = rows;
  const { seed, fitSample = 20_000, maxIter = 15 } = options;
  const chosen = chooseKSparse(rows, options);
  if (chosen.k === 0)
    return {
      k: 0,
      assignment: new Int32Array(0),
      similarity: new Float32Array(0),
      isOutlier: new Uint8Array(0),
      silhouette: chosen.scores,
    };
  const fitted = sphericalKMeansSparse(rows, chosen.k, {
    seed: deriveSeed(seed, 5),
    maxIter,
    fitSample,
    init: chosen.centroids,
  });
  const k0 = fitted.k;
  const ct = fitted.centroids;
  const sizes = new Int32Array(k0);
  for (let i = 0; i < n; i++) sizes[fitted.assignment[i]!]!++;
  // clusters under MIN_CLUSTER_SIZE join the one whose centroid is nearest (their own barely
  // moves it, so it is not recomputed until the end)
  const target = Int32Array.from({ length: k0 }, (_, c) => c);
  let alive = 0;
  for (let c = 0; c < k0; c++) if (sizes[c]! > 0) alive++;
  while (alive > 1) {
    let small = -1;
    for (let c = 0; c < k0; c++)
      if (sizes[c]! > 0 && sizes[c]! < MIN_CLUSTER_SIZE && (small < 0 || sizes[c]! < sizes[small]!))
        small = c;
    if (small < 0) break;
    const sim = new Float64Array(k0);
    for (let t = 0; t < dims; t++) {
      const base = t * k0;
      const x = ct[base + small]!;
      if (x === 0) continue;
      for (let c = 0; c < k0; c++) sim[c]! += x * ct[base + c]!;
    }
    let into = -1;
    for (let c = 0; c < k0; c++)
      if (c !== small && sizes[c]! > 0 && (into < 0 || sim[c]! > sim[into]!)) into = c;
    sizes[into]! += sizes[small]!;
    sizes[small] = 0;
    for (let c = 0; c < k0; c++) if (target[c] === small) target[c] = into;
    alive--;
  }
  const renumber = new Int32Array(k0).fill(-1);
  let k = 0;
  const assignment = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = target[fitted.assignment[i]!]!;
    if (renumber[c] === -1) renumber[c] = k++;
    assignment[i] = renumber[c]!;
  }
  const similarity = similaritiesToOwn(rows, assignment, k);
  const cutoff = percentile(similarity, OUTLIER_PERCENTILE);
  return {
    k,
    assignment,
    similarity,
    isOutlier: Uint8Array.from(similarity, (s) => (s < cutoff ? 1 : 0)),
    silhouette: chosen.scores,
  };
}

/** Each row's cosine similarity to the unit mean of its cluster (assignment −1: 0). */
export function similaritiesToOwn(rows: SparseRows, assignment: Int32Array, k: number): Float32Array {
  const ct = new Float32Array(rows.dims * k);
  centroidsSparse(rows, assignment, k, ct, undefined, false);
  const similarity = new Float32Array(rows.n);
  for (let i = 0; i < rows.n; i++) {
    const c = assignment[i]!;
    if (c < 0) continue;
    let s = 0;
    for (let e = rows.offsets[i]!; e < rows.offsets[i + 1]!; e++)
      s += rows.vals[e]! * ct[rows.ids[e]! * k + c]!;
    similarity[i] = s;
  }
  return similarity;
}

/**
 * Incremental updates (A6) in the sparse space: the centroids of the kept members (assignment ≥ 0)
 * score the new rows (`added`); a new row joins its nearest cluster when at least as similar as
 * that cluster's threshold, else −1 (the pool). Returns, per added row, its cluster and similarity.
 */
export function assignToExistingSparse(
  rows: SparseRows,
  assignment: Int32Array,
  k: number,
  added: Int32Array,
  thresholds: ArrayLike<number>,
): { assignment: Int32Array; similarity: Float32Array } {
  const ct = new Float32Array(rows.dims * k);
  centroidsSparse(rows, assignment, k, ct, undefined, false);
  const sub = subsetRows(rows, added);
  const out = new Int32Array(sub.n);
  const similarity = new Float32Array(sub.n);
  assignSparse(sub, ct, k, out, similarity);
  for (let i = 0; i < sub.n; i++) if (similarity[i]! < (thresholds[out[i]!] ?? Infinity)) out[i] = -1;
  return { assignment: out, similarity };
}

// Small numeric helpers shared by the L1 clustering code: a seeded PRNG (every build must be
// reproducible from its manifest's seed, so Math.random is never used), seeded sampling,
// dot products over flat row-major Float32Arrays and percentiles.

/** mulberry32: tiny, fast and good enough for sampling and seeding; returns values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with a stream number so separate steps draw independent sequences. */
export function deriveSeed(seed: number, stream: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** `m` distinct indexes of 0..n−1 in ascending order (all of them when m ≥ n). */
export function sampleIndexes(n: number, m: number, seed: number): Int32Array {
  if (m >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed);
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.slice(0, m).sort();
}

/** Copies the rows `idx` of an n×d matrix into a new contiguous |idx|×d matrix. */
export function gatherRows(points: Float32Array, d: number, idx: ArrayLike<number>): Float32Array {
  const out = new Float32Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i]! * d;
    out.set(points.subarray(from, from + d), i * d);
  }
  return out;
}

/** Dot product of row `ai` of `a` and row `bi` of `b` (both row-major with `d` columns). */
export function dotRows(a: Float32Array, ai: number, b: Float32Array, bi: number, d: number): number {
  const ao = ai * d;
  const bo = bi * d;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < d; j += 4) {
    s0 += a[ao + j]! * b[bo + j]!;
    s1 += a[ao + j + 1]! * b[bo + j + 1]!;
    s2 += a[ao + j + 2]! * b[bo + j + 2]!;
    s3 += a[ao + j + 3]! * b[bo + j + 3]!;
  }
  for (; j < d; j++) s0 += a[ao + j]! * b[bo + j]!;
  return s0 + s1 + s2 + s3;
}

/** Writes the unit vector of `sum` (row `row`, `d` wide) into `out`; false (and no write) for a zero sum. */
export function normaliseInto(
  sum: ArrayLike<number>,
  sumOffset: number,
  out: Float32Array,
  outOffset: number,
  d: number,
): boolean {
  let norm = 0;
  for (let j = 0; j < d; j++) norm += sum[sumOffset + j]! * sum[sumOffset + j]!;
  if (!(norm > 0)) return false;
  const inv = 1 / Math.sqrt(norm);
  for (let j = 0; j < d; j++) out[outOffset + j] = sum[sumOffset + j]! * inv;
  return true;
}

/** The p-th percentile (p in 0..100) with linear interpolation between ranks; NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/**
 * k-means++'s draw: an index with probability weight[i] / total (uniform while no weight is known
 * yet), never one of weight 0, i.e. never a point that already is a centroid.
 */
export function weightedPick(weight: Float64Array, total: number, rand: () => number): number {
  const m = weight.length;
  if (!(total > 0) || total === Infinity) return Math.floor(rand() * m);
  let target = rand() * total;
  for (let i = 0; i < m; i++) {
    target -= weight[i]!;
    if (target < 0 && weight[i]! > 0) return i;
  }
  for (let i = m - 1; i >= 0; i--) if (weight[i]! > 0) return i;
  return m - 1;
}

/**
 * The entries a dense accumulator gathered, as id/count arrays in the order they were first
 * touched; the accumulator and the touched list are left zeroed and empty for the next sum.
 */
export function takeTouched(acc: Float64Array, touched: number[]): { ids: Int32Array; counts: Float64Array } {
  const ids = Int32Array.from(touched);
  const counts = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    counts[i] = acc[ids[i]!]!;
    acc[ids[i]!] = 0;
  }
  touched.length = 0;
  return { ids, counts };
}

// Planted test data for the clustering tests: m topic directions in d dims and points that are
// normalise(direction + noise), all from a seeded generator so tests are reproducible.
import { mulberry32 } from './numeric.ts';

export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

export function randomUnit(d: number, normal: () => number): Float32Array {
  const v = Float32Array.from({ length: d }, normal);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

export interface Planted {
  points: Float32Array;
  labels: Int32Array;
  directions: Float32Array[];
  n: number;
  d: number;
}

/** `sizes[t]` points around each of `sizes.length` random directions; noise is the noise vector's norm. */
export function planted(
  sizes: readonly number[],
  {
    d = 128,
    noise = 0.8,
    seed = 1,
    directions,
  }: { d?: number; noise?: number; seed?: number; directions?: Float32Array[] } = {},
): Planted {
  const normal = gaussian(mulberry32(seed));
  const dirs = directions ?? sizes.map(() => randomUnit(d, normal));
  const n = sizes.reduce((a, b) => a + b, 0);
  const points = new Float32Array(n * d);
  const labels = new Int32Array(n);
  let i = 0;
  const scale = noise / Math.sqrt(d);
  for (let t = 0; t < sizes.length; t++) {
    for (let c = 0; c < sizes[t]!; c++, i++) {
      let norm = 0;
      for (let j = 0; j < d; j++) {
        const v = dirs[t]![j]! + scale * normal();
        points[i * d + j] = v;
        norm += v * v;
      }
      for (let j = 0; j < d; j++) points[i * d + j]! /= Math.sqrt(norm);
      labels[i] = t;
    }
  }
  return { points, labels, directions: dirs, n, d };
}

/** Σ over clusters of the largest planted label count, over n. */
export function purity(assignment: ArrayLike<number>, labels: ArrayLike<number>): number {
  const counts = new Map<number, Map<number, number>>();
  for (let i = 0; i < assignment.length; i++) {
    const byLabel = counts.get(assignment[i]!) ?? new Map<number, number>();
    byLabel.set(labels[i]!, (byLabel.get(labels[i]!) ?? 0) + 1);
    counts.set(assignment[i]!, byLabel);
  }
  let sum = 0;
  for (const byLabel of counts.values()) sum += Math.max(...byLabel.values());
  return sum / assignment.length;
}

// Leaf clustering must find planted topics, choose their number and be reproducible from its seed.
import { describe, expect, it } from 'vitest';
import { chooseK, clusterLeaves, silhouette, sphericalKMeans } from './kmeans.ts';
import { mulberry32 } from './numeric.ts';
import { gaussian, planted, purity, randomUnit } from './planted.test-helpers.ts';

describe('sphericalKMeans', () => {
  const data = planted(Array(8).fill(40), { seed: 3 });

  it('gives identical centroids and assignments for the same seed', () => {
    const a = sphericalKMeans(data.points, data.n, data.d, 8, { seed: 11 });
    const b = sphericalKMeans(data.points, data.n, data.d, 8, { seed: 11 });
    expect(b.assignment).toEqual(a.assignment);
    expect(b.centroids).toEqual(a.centroids);
  });

  it('depends on the seed', () => {
    const a = sphericalKMeans(data.points, data.n, data.d, 8, { seed: 11 });
    const b = sphericalKMeans(data.points, data.n, data.d, 8, { seed: 12 });
    expect(b.centroids).not.toEqual(a.centroids);
  });

  it('recovers planted clusters with unit centroids, fitting on a sample', () => {
    const r = sphericalKMeans(data.points, data.n, data.d, 8, { seed: 5, fitSample: 200 });
    expect(purity(r.assignment, data.labels)).toBeGreaterThanOrEqual(0.95);
    for (let c = 0; c < 8; c++) {
      const row = r.centroids.subarray(c * 128, c * 128 + 128);
      expect(Math.hypot(...row)).toBeCloseTo(1, 4);
    }
  });
});

describe('silhouette', () => {
  it('scores the planted partition above a scrambled one', () => {
    const data = planted([30, 30, 30], { seed: 4 });
    const sample = Array.from({ length: data.n }, (_, i) => i);
    const scrambled = data.labels.map((_, i) => i % 3);
    expect(silhouette(data.points, data.n, data.d, data.labels, 3, sample)).toBeGreaterThan(0.3);
    expect(silhouette(data.points, data.n, data.d, scrambled, 3, sample)).toBeLessThan(0.05);
  });
});

describe('chooseK and clusterLeaves', () => {
  it('chooses the planted k of 10 topics over 500 points with purity ≥ 0.95', () => {
    const data = planted(Array(10).fill(50), { seed: 9 });
    expect(chooseK(data.points, data.n, data.d, { seed: 1 }).k).toBe(10);
    const r = clusterLeaves(data.points, data.n, data.d, { seed: 1 });
    expect(r.k).toBe(10);
    expect(purity(r.assignment, data.labels)).toBeGreaterThanOrEqual(0.95);
    expect(r.silhouette.map((s) => s.k)).toContain(10);
  });

  it('chooses 3 for 3 topics of 6 points', () => {
    const data = planted([6, 6, 6], { seed: 2 });
    const r = clusterLeaves(data.points, data.n, data.d, { seed: 7 });
    expect(r.k).toBe(3);
    expect(purity(r.assignment, data.labels)).toBe(1);
  });

  it('is deterministic and numbers clusters by their first member', () => {
    const data = planted([20, 25, 30, 35], { seed: 5 });
    const a = clusterLeaves(data.points, data.n, data.d, { seed: 3 });
    const b = clusterLeaves(data.points, data.n, data.d, { seed: 3 });
    expect(b.assignment).toEqual(a.assignment);
    expect(b.centroids).toEqual(a.centroids);
    const firsts = Array.from({ length: a.k }, (_, c) => a.assignment.indexOf(c));
    expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
  });

  it('flags random points as outliers but keeps them assigned', () => {
    const data = planted(Array(6).fill(40), { seed: 6 });
    const normal = gaussian(mulberry32(99));
    const extra = 5;
    const points = new Float32Array((data.n + extra) * 128);
    points.set(data.points);
    for (let e = 0; e < extra; e++) points.set(randomUnit(128, normal), (data.n + e) * 128);
    const r = clusterLeaves(points, data.n + extra, 128, { seed: 2 });
    for (let e = 0; e < extra; e++) {
      expect(r.isOutlier[data.n + e]).toBe(1);
      expect(r.assignment[data.n + e]).toBeGreaterThanOrEqual(0);
    }
    const flagged = r.isOutlier.reduce((a, b) => a + b, 0);
    expect(flagged).toBeLessThanOrEqual(Math.ceil(0.05 * (data.n + extra)));
  });

  it('merges clusters of fewer than 3 members into a neighbour', () => {
    const data = planted([60, 60, 60, 2], { seed: 8, noise: 0.5 });
    const r = clusterLeaves(data.points, data.n, data.d, { seed: 4 });
    const sizes = new Array(r.k).fill(0);
    for (const c of r.assignment) sizes[c]++;
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(3);
    expect(r.k).toBe(3);
    expect(r.silhouette.find((s) => s.k === 4)!.score).toBeGreaterThan(
      r.silhouette.find((s) => s.k === 3)!.score,
    );
  });

  it.skipIf(!process.env.MEMORY_PERF)(
    'clusters 100k × 128 with 300 planted topics (timing printed)',
    () => {
      const n = 100_000;
      const sizes = Array.from({ length: 300 }, (_, t) => Math.floor(n / 300) + (t < n % 300 ? 1 : 0));
      const data = planted(sizes, { seed: 7 });
      const start = performance.now();
      const r = clusterLeaves(data.points, data.n, data.d, { seed: 42 });
      const ms = performance.now() - start;
      console.log(
        `clusterLeaves 100k×128: ${(ms / 1000).toFixed(1)} s, k=${r.k}, purity=${purity(r.assignment, data.labels).toFixed(3)}`,
      );
    },
    300_000,
  );
});

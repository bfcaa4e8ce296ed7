// Incremental updates: newcomers join clusters they resemble, anything new waits in the pool.
import { describe, expect, it } from 'vitest';
import { assignToExisting, centroidsOf, clusterStats, percentile } from './incremental.ts';
import { planted } from './planted.test-helpers.ts';

describe('percentile', () => {
  it('interpolates between ranks', () => {
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([0, 10], 10)).toBeCloseTo(1);
    expect(percentile([], 10)).toBeNaN();
  });
});

describe('assignToExisting', () => {
  const old = planted([40, 40, 40, 20], { seed: 21 });
  const known = old.n - 20;
  const k = 3;
  const centroids = centroidsOf(old.points, known, old.d, old.labels, k);
  const stats = clusterStats(old.points, known, old.d, old.labels, k, centroids);

  it('computes sizes, cohesion and p10 per cluster', () => {
    expect(stats.map((s) => s.size)).toEqual([40, 40, 40]);
    for (const s of stats) {
      expect(s.cohesion).toBeGreaterThan(0.7);
      expect(s.p10).toBeLessThan(s.cohesion);
    }
  });

  it('sends points of known topics to their clusters and a new topic to the pool', () => {
    const fresh = planted([10, 10, 10, 0], { seed: 77, directions: old.directions });
    const points = new Float32Array((30 + 20) * old.d);
    points.set(fresh.points);
    points.set(old.points.subarray(known * old.d), 30 * old.d);
    const r = assignToExisting(
      { centroids, k, d: old.d, sizes: stats.map((s) => s.size), thresholds: stats.map((s) => s.p10 - 0.05) },
      points,
      50,
    );
    expect(Array.from(r.assignment.subarray(0, 30))).toEqual(Array.from(fresh.labels));
    expect(Array.from(r.assignment.subarray(30)).every((c) => c === -1)).toBe(true);
    expect(Array.from(r.sizes)).toEqual([50, 50, 50]);
    const c0 = r.centroids.subarray(0, old.d);
    expect(Math.hypot(...c0)).toBeCloseTo(1, 4);
  });
});

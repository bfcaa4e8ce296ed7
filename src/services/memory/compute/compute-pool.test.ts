// The pool must give the in-thread results and leave the event loop free while it computes.
import { afterAll, describe, expect, it } from 'vitest';
import { createComputePool } from './compute-pool.ts';
import { buildHierarchy } from './hierarchy.ts';
import { assignToExisting, clusterStats } from './incremental.ts';
import { clusterLeaves } from './kmeans.ts';
import { planted } from './planted.test-helpers.ts';

describe('compute pool', () => {
  const pool = createComputePool();
  afterAll(() => pool.close());

  it('returns what the in-thread functions return, moving the buffers', async () => {
    const data = planted(Array(5).fill(30), { seed: 12 });
    const expected = clusterLeaves(data.points, data.n, data.d, { seed: 3 });
    const points = data.points.slice();
    const got = await pool.run('cluster', { points, n: data.n, d: data.d, seed: 3 });
    expect(points.length).toBe(0);
    expect(got).toEqual(expected);
    expect(got.centroids).toBeInstanceOf(Float32Array);

    const sizes = Array.from(
      { length: expected.k },
      (_, c) => expected.assignment.filter((a) => a === c).length,
    );
    const topics = await pool.run('hierarchy', {
      centroids: expected.centroids.slice(),
      k: expected.k,
      d: data.d,
      sizes,
    });
    expect(topics).toEqual(buildHierarchy(expected.centroids, expected.k, data.d, sizes));

    const stats = await pool.run('stats', {
      points: data.points.slice(),
      n: data.n,
      d: data.d,
      assignment: expected.assignment.slice(),
      k: expected.k,
    });
    expect(stats.stats).toEqual(clusterStats(data.points, data.n, data.d, expected.assignment, expected.k));

    const existing = {
      centroids: stats.centroids,
      k: expected.k,
      d: data.d,
      sizes,
      thresholds: stats.stats.map((s) => s.p10),
    };
    const inThread = assignToExisting(existing, data.points, 20);
    const assigned = await pool.run('assign', {
      ...existing,
      centroids: existing.centroids.slice(),
      points: data.points.slice(0, 20 * data.d),
      n: 20,
    });
    expect(assigned).toEqual(inThread);
    expect(
      Array.from(assigned.assignment).filter((c) => c === expected.assignment[0]).length,
    ).toBeGreaterThan(10);
  });

  it('rejects an unknown task', async () => {
    await expect(pool.run('nope' as 'stats', {} as never)).rejects.toThrow(/unknown compute task/);
  });

  it('keeps the event loop responsive while clustering 20,000 × 128 points', async () => {
    const data = planted(Array(40).fill(500), { seed: 13 });
    const lags: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      lags.push(now - last - 10);
      last = now;
    }, 10);
    const result = await pool.run('cluster', { points: data.points, n: data.n, d: data.d, seed: 1 });
    clearInterval(timer);
    lags.sort((a, b) => a - b);
    const p99 = lags[Math.floor(0.99 * (lags.length - 1))]!;
    expect(result.assignment).toHaveLength(20_000);
    expect(lags.length).toBeGreaterThan(50);
    expect(p99).toBeLessThan(100);
  }, 120_000);
});

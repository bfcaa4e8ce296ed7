// Topics must group clusters by their planted super-topic and be stable enough to match by key.
import { describe, expect, it } from 'vitest';
import { buildHierarchy } from './hierarchy.ts';
import { mulberry32 } from './numeric.ts';
import { gaussian, planted, randomUnit } from './planted.test-helpers.ts';

describe('buildHierarchy', () => {
  it('groups 12 clusters from 3 planted super-topics into 3 top topics', () => {
    const normal = gaussian(mulberry32(31));
    const supers = [0, 1, 2].map(() => randomUnit(128, normal));
    // cluster c belongs to super-topic c % 3, so the right grouping is not just index order
    const labels = Array.from({ length: 12 }, (_, c) => c % 3);
    const { points } = planted(Array(12).fill(1), {
      seed: 32,
      noise: 0.9,
      directions: labels.map((s) => supers[s]!),
    });
    const topics = buildHierarchy(points, 12, 128, Array(12).fill(10));
    const tops = topics.filter((t) => t.depth === 0);
    expect(tops.map((t) => t.clusters)).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7, 10],
      [2, 5, 8, 11],
    ]);
    expect(tops.map((t) => t.key)).toEqual(['t0-0', 't0-1', 't0-2']);
    expect(topics.every((t) => t.depth === 0)).toBe(true);
  });

  it('splits a top topic of ≥ 6 clusters into sub-topics that cover it', () => {
    const normal = gaussian(mulberry32(41));
    const supers = [0, 1, 2].map(() => randomUnit(128, normal));
    const labels = Array.from({ length: 27 }, (_, c) => c % 3);
    const { points } = planted(Array(27).fill(1), {
      seed: 42,
      noise: 0.9,
      directions: labels.map((s) => supers[s]!),
    });
    const topics = buildHierarchy(points, 27, 128, Array(27).fill(5));
    const tops = topics.filter((t) => t.depth === 0);
    expect(tops.flatMap((t) => t.clusters).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 27 }, (_, i) => i),
    );
    for (const top of tops) {
      const subs = topics.filter((t) => t.parent === top.key);
      if (top.clusters.length < 6) continue;
      expect(subs.length).toBe(Math.min(6, Math.max(2, Math.round(Math.sqrt(top.clusters.length)))));
      expect(subs.flatMap((s) => s.clusters).sort((a, b) => a - b)).toEqual(top.clusters);
      expect(subs.every((s) => s.depth === 1)).toBe(true);
    }
    expect(buildHierarchy(points, 27, 128, Array(27).fill(5))).toEqual(topics);
  });

  it('makes each cluster its own top topic when k ≤ 3', () => {
    const { points } = planted([1, 1], { seed: 1 });
    expect(buildHierarchy(points, 2, 128, [4, 4])).toEqual([
      { key: 't0-0', parent: null, depth: 0, clusters: [0] },
      { key: 't0-1', parent: null, depth: 0, clusters: [1] },
    ]);
  });
});

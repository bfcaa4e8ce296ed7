// The projection must keep similarities, be reproducible per seed and be cheap enough for 100k chunks.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from './numeric.ts';
import { gaussian, randomUnit } from './planted.test-helpers.ts';
import { projectionName, projectVector } from './projection.ts';

const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('projection', () => {
  it('names the projection after the model and dims', () => {
    expect(projectionName('text-embedding-3-small', 1536, 1)).toBe('truncate-128');
    expect(projectionName('all-MiniLM-L6-v2', 384, 7)).toBe('sparse-rp-128-s7');
    expect(projectionName('tiny', 64, 7)).toBe('identity-64');
  });

  it('truncates and renormalises Matryoshka embeddings', () => {
    const v = Array.from({ length: 1536 }, (_, i) => (i < 128 ? 1 : 5));
    const p = projectVector(v, 'text-embedding-3-large', 1);
    expect(p).toHaveLength(128);
    expect(p[0]).toBeCloseTo(1 / Math.sqrt(128), 4);
  });

  it('pads small vectors and gives 4-decimal unit vectors', () => {
    const p = projectVector([3, 4], 'tiny', 1);
    expect(p.slice(0, 3)).toEqual([0.6, 0.8, 0]);
    expect(p).toHaveLength(128);
  });

  it('keeps cosine similarities roughly and is deterministic per seed', () => {
    const normal = gaussian(mulberry32(5));
    const a = Array.from(randomUnit(384, normal));
    const noise = Array.from(randomUnit(384, normal));
    const b = a.map((x, i) => x + 0.5 * noise[i]!);
    const pa = projectVector(a, 'all-MiniLM-L6-v2', 3);
    const pb = projectVector(b, 'all-MiniLM-L6-v2', 3);
    const nb = Math.hypot(...b);
    expect(Math.abs(cos(pa, pb) - cos(a, b) / nb)).toBeLessThan(0.15);
    expect(Math.hypot(...pa)).toBeCloseTo(1, 3);
    expect(projectVector(a, 'all-MiniLM-L6-v2', 3)).toEqual(pa);
    expect(projectVector(a, 'all-MiniLM-L6-v2', 4)).not.toEqual(pa);
  });

  it('projects 100k vectors of 384 dims in a few seconds', () => {
    const v = Float32Array.from(randomUnit(384, gaussian(mulberry32(1))));
    const start = performance.now();
    for (let i = 0; i < 100_000; i++) projectVector(v, 'all-MiniLM-L6-v2', 1);
    // generous: about 1–3 s here, and CI machines are shared
    expect(performance.now() - start).toBeLessThan(8_000);
  });
});

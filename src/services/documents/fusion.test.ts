import { describe, expect, it } from 'vitest';
import { fuseByReciprocalRank } from './fusion.ts';

const keys = { vector: (s: string) => s, lexical: (s: string) => s };
const even = { vector: 1, lexical: 1, k: 60 };

describe('fuseByReciprocalRank', () => {
  it('ranks an item both sides found above one that either side ranks first alone', () => {
    const fused = fuseByReciprocalRank(['a', 'b', 'c'], ['d', 'c', 'e'], keys, even, 10);
    expect(fused[0]).toMatchObject({ key: 'c', matchedBy: 'both' });
    expect(fused[0]!.vector?.rank).toBe(3);
    expect(fused[0]!.lexical?.rank).toBe(2);
    expect(fused.map((f) => f.key)).toEqual(['c', 'a', 'd', 'b', 'e']);
  });

  it('scales the score to 1 for an item first on both sides', () => {
    const [top, next] = fuseByReciprocalRank(['a', 'b'], ['a', 'b'], keys, even, 10);
    expect(top!.score).toBeCloseTo(1, 10);
    expect(next!.score).toBeCloseTo(61 / 62, 10);
  });

  it('follows the weights: a heavier lexical side puts its first above the vector side first', () => {
    const lexicalHeavy = fuseByReciprocalRank(['a'], ['b'], keys, { vector: 1, lexical: 2, k: 60 }, 10);
    expect(lexicalHeavy.map((f) => [f.key, f.matchedBy])).toEqual([
      ['b', 'lexical'],
      ['a', 'vector'],
    ]);
    const vectorOnly = fuseByReciprocalRank(['a'], ['b'], keys, { vector: 1, lexical: 0, k: 60 }, 10);
    expect(vectorOnly.map((f) => f.key)).toEqual(['a']);
  });

  it('a small k lets rank 1 dominate; a large k lets agreement further down win', () => {
    const vector = ['x', 'y'];
    const lexical = ['z', 'w', 'y'];
    // y is second and third; x and z are first on one side each
    expect(fuseByReciprocalRank(vector, lexical, keys, { vector: 1, lexical: 1, k: 0 }, 1)[0]!.key).toBe('x');
    expect(fuseByReciprocalRank(vector, lexical, keys, { vector: 1, lexical: 1, k: 60 }, 1)[0]!.key).toBe(
      'y',
    );
  });

  it('breaks equal sums by the vector side, keeps only the best rank of a repeated key, and cuts at limit', () => {
    const fused = fuseByReciprocalRank(['a', 'a', 'b'], ['c'], keys, even, 2);
    // a (vector rank 1) and c (lexical rank 1) tie on the sum; the vector side's comes first
    expect(fused.map((f) => f.key)).toEqual(['a', 'c']);
    expect(fused[0]!.vector?.rank).toBe(1);
    expect(fuseByReciprocalRank(['a'], [], keys, even, 0)).toEqual([]);
    expect(fuseByReciprocalRank([], [], keys, even, 5)).toEqual([]);
  });

  it('joins items of different shapes by their keys', () => {
    const fused = fuseByReciprocalRank(
      [{ id: 'd1#0', cosine: 0.9 }],
      [{ doc: 'd1', index: 0, rank: 0.3 }],
      { vector: (v) => v.id, lexical: (l) => `${l.doc}#${l.index}` },
      even,
      5,
    );
    expect(fused).toHaveLength(1);
    expect(fused[0]!.vector?.item.cosine).toBe(0.9);
    expect(fused[0]!.lexical?.item.rank).toBe(0.3);
  });
});

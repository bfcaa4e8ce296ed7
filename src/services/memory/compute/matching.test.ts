// Ids survive a rebuild when the new sets mostly match the old ones.
import { describe, expect, it } from 'vitest';
import { matchByJaccard } from './matching.ts';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `c${from + i}`);

describe('matchByJaccard', () => {
  it('maps a shuffled, slightly changed partition back to the old ids', () => {
    const previous = new Map([
      ['k-a', range(0, 20)],
      ['k-b', range(20, 40)],
      ['k-c', range(40, 60)],
    ]);
    const next = [[...range(42, 60), 'c99'], [...range(0, 18), 'c20', 'c21'], range(22, 40), range(100, 110)];
    expect(matchByJaccard(previous, next)).toEqual(['k-c', 'k-a', 'k-b', null]);
  });

  it('gives an old id to one new set only, the best match first', () => {
    const previous = new Map([['old', range(0, 10)]]);
    expect(matchByJaccard(previous, [range(0, 8), range(0, 10)])).toEqual([null, 'old']);
    expect(matchByJaccard(previous, [range(0, 4)])).toEqual([null]);
  });
});

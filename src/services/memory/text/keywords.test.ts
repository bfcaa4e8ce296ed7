import { describe, expect, it } from 'vitest';
import { clusterKeywords, mergeCounts } from './keywords.ts';
import { isStopword, termCounts } from './terms.ts';

const sum = (texts: string[]) => texts.reduce((acc, t) => mergeCounts(acc, termCounts(t)), {});

const SAILING = [
  'I went sailing with my friend in the harbour and the wind was strong all day.',
  'We were sailing past the lighthouse; the boat heeled and the sails were full.',
  'Sailing at dawn is the best: the harbour is quiet and the water is calm.',
  'My sailing trip to the islands took three days, and the boat needed new sails.',
];
const COOKING = [
  'I baked bread this morning, the dough rose slowly in the warm kitchen.',
  'The recipe for the soup needs garlic, onions and a lot of patience in the kitchen.',
  'Baking bread is my weekend ritual; the oven has to be very hot for the crust.',
];
const MONEY = [
  'The bank raised the interest rate again, so our mortgage payments went up.',
  'I moved my savings into an index fund because the interest on the account was low.',
  'Budget for the month: rent, mortgage, savings and the fund contribution.',
];

describe('clusterKeywords', () => {
  it('puts "sailing" first for a sailing cluster and never returns a stopword', () => {
    const [sailing, cooking, money] = clusterKeywords([sum(SAILING), sum(COOKING), sum(MONEY)], 8);
    expect(sailing![0]).toBe('sailing');
    for (const keywords of [sailing!, cooking!, money!]) {
      expect(keywords.length).toBeGreaterThan(3);
      for (const term of keywords) for (const word of term.split(' ')) expect(isStopword(word)).toBe(false);
    }
    expect(cooking).toContain('bread');
    expect(money).toContain('interest');
  });

  it('gives distinct keywords to distinct themes', () => {
    const lists = clusterKeywords([sum(SAILING), sum(COOKING), sum(MONEY)], 8);
    const seen = new Set<string>();
    for (const list of lists)
      for (const term of list) {
        expect(seen.has(term)).toBe(false);
        seen.add(term);
      }
  });

  it('prefers a bigram over its words when it scores as high', () => {
    const a = sum(['Sailing trip. Sailing trip. Sailing trip. Harbour wind.']);
    const b = sum(['Bread dough. Oven crust.']);
    const [keywords] = clusterKeywords([a, b], 3);
    expect(keywords![0]).toBe('sailing trip');
    expect(keywords).not.toContain('sailing');
    expect(keywords).not.toContain('trip');
  });

  it('returns nothing for an empty cluster', () => {
    expect(clusterKeywords([{}, sum(SAILING)], 5)[0]).toEqual([]);
    expect(clusterKeywords([])).toEqual([]);
  });

  it('scores 300 clusters over a 50k-term vocabulary quickly', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const vocabulary = Array.from({ length: 50_000 }, (_, i) => `term${i.toString(36)}x`);
    const clusters = Array.from({ length: 300 }, (_, c) => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < 3000; i++) {
        const t = vocabulary[Math.floor(random() ** 2 * 50_000 + c * 97) % 50_000]!;
        counts[t] = (counts[t] ?? 0) + 1;
      }
      return counts;
    });
    const start = performance.now();
    const lists = clusterKeywords(clusters);
    const ms = performance.now() - start;
    console.log(`clusterKeywords: 300 clusters, 50k vocabulary in ${ms.toFixed(0)} ms`);
    expect(lists.every((l) => l.length === 10)).toBe(true);
    expect(ms).toBeLessThan(15_000);
  });
});

describe('mergeCounts', () => {
  it('adds and subtracts counts, removing terms that reach zero', () => {
    const total = mergeCounts({ sailing: 2, boat: 1 }, { sailing: 1, lisbon: 1 });
    expect(total).toEqual({ sailing: 3, boat: 1, lisbon: 1 });
    expect(mergeCounts(total, { sailing: 1, lisbon: 1 }, -1)).toEqual({ sailing: 2, boat: 1 });
  });
});

// The offline lexical embedder's chunks must cluster by the words they share. Planted lexical
// topics as the memory bench plants them (a Zipf background, 30 % of the words from the topic's
// own 28): the dense 128-dim sketch's hash collisions drown what two chunks of a topic share,
// the sparse tf·idf rows do not.
import { describe, expect, it } from 'vitest';
import { type TermList, termListOf } from '../../ports/memory.ts';
import { clusterLeaves } from './kmeans.ts';
import { mulberry32 } from './numeric.ts';
import { purity } from './planted.test-helpers.ts';
import { lexicalRow, lexicalVocabulary, projectTerms, stemFrequencies } from './projection.ts';
import {
  clusterLeavesSparse,
  type SparseRows,
  silhouetteSparse,
  sparseCandidateKs,
} from './sparse-kmeans.ts';

const LETTERS = 'bcdfghjklmnpqrstvwxz';
const VOWELS = 'aeiou';
/** Distinct pronounceable pseudo-words (no English stopwords among them). */
function pseudoWord(i: number): string {
  let w = '';
  let x = i + 400;
  while (x > 0) {
    w += LETTERS[x % LETTERS.length]! + VOWELS[Math.floor(x / LETTERS.length) % VOWELS.length]!;
    x = Math.floor(x / (LETTERS.length * VOWELS.length));
  }
  return `${w}k`;
}

function plantedLexical(topics: number, perTopic: number, seed: number) {
  const rand = mulberry32(seed);
  const background = 3000;
  const topicWords = 28;
  const words = Array.from({ length: background + topics * topicWords }, (_, i) => pseudoWord(i));
  const zipf = new Float64Array(background);
  let sum = 0;
  for (let r = 0; r < background; r++) zipf[r] = sum += 1 / (r + 1);
  const zipfWord = (u: number) => {
    let lo = 0;
    let hi = background - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (zipf[mid]! / sum < u) lo = mid + 1;
      else hi = mid;
    }
    return words[lo]!;
  };
  const terms: TermList[] = [];
  const labels: number[] = [];
  for (let t = 0; t < topics; t++)
    for (let j = 0; j < perTopic; j++) {
      const counts: Record<string, number> = {};
      const length = 10 + Math.floor(rand() * rand() * 50);
      for (let w = 0; w < length; w++) {
        const word =
          rand() < 0.3
            ? words[background + t * topicWords + Math.floor(rand() * topicWords)]!
            : zipfWord(rand());
        counts[word] = (counts[word] ?? 0) + 1;
      }
      terms.push(termListOf(counts));
      labels.push(t);
    }
  return { terms, labels: Int32Array.from(labels) };
}

function sparseRowsOf(terms: readonly TermList[]): SparseRows {
  const df = stemFrequencies(terms);
  const vocabulary = lexicalVocabulary(df, terms.length);
  const rows = terms.map((t) => lexicalRow(t, vocabulary));
  const offsets = new Int32Array(terms.length + 1);
  rows.forEach((r, i) => {
    offsets[i + 1] = offsets[i]! + r.ids.length;
  });
  const ids = new Int32Array(offsets[terms.length]!);
  const vals = new Float32Array(ids.length);
  rows.forEach((r, i) => {
    ids.set(r.ids, offsets[i]!);
    vals.set(r.vals, offsets[i]!);
  });
  return { offsets, ids, vals, n: terms.length, dims: vocabulary.idf.length };
}

describe('clusterLeavesSparse on planted lexical topics', () => {
  const { terms, labels } = plantedLexical(48, 50, 17);

  it('recovers them (purity ≥ 0.95) where the dense sketch of the same chunks does not', () => {
    const df = stemFrequencies(terms);
    const sketches = new Float32Array(terms.length * 128);
    terms.forEach((t, i) => {
      sketches.set(projectTerms(t, df, terms.length), i * 128);
    });
    const dense = clusterLeaves(sketches, terms.length, 128, { seed: 3 });
    const sparse = clusterLeavesSparse(sparseRowsOf(terms), { seed: 3 });
    expect(purity(dense.assignment, labels)).toBeLessThan(0.9);
    expect(purity(sparse.assignment, labels)).toBeGreaterThanOrEqual(0.95);
    expect(sparse.k).toBeGreaterThanOrEqual(45);
    expect(sparse.k).toBeLessThanOrEqual(55);
  });

  it('is deterministic given the seed, and every row is in one cluster', () => {
    const rows = sparseRowsOf(terms.slice(0, 600));
    const a = clusterLeavesSparse(rows, { seed: 5 });
    const b = clusterLeavesSparse(rows, { seed: 5 });
    expect(b.assignment).toEqual(a.assignment);
    expect(a.assignment.every((c) => c >= 0 && c < a.k)).toBe(true);
    expect(a.isOutlier.reduce((s, x) => s + x, 0)).toBeGreaterThan(0);
  });

  it('scores the planted partition above a scrambled one by sparse silhouette', () => {
    const rows = sparseRowsOf(terms.slice(0, 500));
    const sample = Array.from({ length: 500 }, (_, i) => i);
    const truth = labels.slice(0, 500);
    const scrambled = Int32Array.from(truth, (_, i) => i % 10);
    expect(silhouetteSparse(rows, truth, 10, sample)).toBeGreaterThan(
      silhouetteSparse(rows, scrambled, 10, sample) + 0.02,
    );
  });

  it('tries a ladder of ks between k*/2 and 2k* for large corpora', () => {
    expect(sparseCandidateKs(100_000).candidates).toEqual([150, 200, 267, 300, 356, 475, 600]);
  });
});

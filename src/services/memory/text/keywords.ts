// c-TF-IDF keywords per cluster (MEMORY-TRAINING A2, BERTopic's class-based TF-IDF): always
// computed, they label clusters offline and ground the LLM labeler. Inputs are the cached per-chunk
// term counts summed per cluster, so an incremental update only adds and subtracts counts.
import { isStopword } from './terms.ts';

/** Adds (`sign` 1) or subtracts (`sign` -1) `source` into `target`; terms that reach 0 are removed. */
export function mergeCounts(
  target: Record<string, number>,
  source: Readonly<Record<string, number>>,
  sign = 1,
): Record<string, number> {
  for (const term in source) {
    const next = (Object.hasOwn(target, term) ? target[term]! : 0) + sign * source[term]!;
    if (next > 0) target[term] = next;
    else delete target[term];
  }
  return target;
}

interface Candidate {
  term: string;
  score: number;
  bigram: boolean;
}

// Higher score first; on a tie the bigram first (it says more), then alphabetical for determinism.
const before = (a: Candidate, b: Candidate): boolean =>
  a.score !== b.score ? a.score > b.score : a.bigram !== b.bigram ? a.bigram : a.term < b.term;

/** Inserts into `top` (kept sorted, at most `limit` long) when it belongs there. */
function offer(top: Candidate[], limit: number, candidate: Candidate): void {
  if (top.length === limit && !before(candidate, top[limit - 1]!)) return;
  let lo = 0;
  let hi = top.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(top[mid]!, candidate)) lo = mid + 1;
    else hi = mid;
  }
  top.splice(lo, 0, candidate);
  if (top.length > limit) top.pop();
}

/**
 * The top `topN` keywords of each cluster, w(t,c) = tf(t,c) · log(1 + A / f(t)): tf is the term's
 * count over the cluster's word total, A the mean words per cluster, f(t) the term's count over all
 * clusters. A bigram scoring at least as high as its words replaces them; a bigram seen once is noise.
 */
export function clusterKeywords(
  clusters: readonly Readonly<Record<string, number>>[],
  topN = 10,
): string[][] {
  // One pass over each cluster's object; the scoring pass then works on arrays of term ids, since
  // string-keyed lookups dominate the cost at 300 clusters × 50k terms.
  const idOf = new Map<string, number>();
  const terms: string[] = [];
  const isBigram: boolean[] = [];
  const frequency: number[] = [];
  const perCluster = clusters.map((counts) => {
    const keys = Object.keys(counts);
    const ids = new Int32Array(keys.length);
    const values = new Float64Array(keys.length);
    let total = 0;
    for (let i = 0; i < keys.length; i++) {
      const term = keys[i]!;
      const value = counts[term]!;
      let id = idOf.get(term);
      if (id === undefined) {
        id = terms.length;
        idOf.set(term, id);
        terms.push(term);
        isBigram.push(term.includes(' '));
        frequency.push(0);
      }
      ids[i] = id;
      values[i] = value;
      frequency[id]! += value;
      if (!isBigram[id]) total += value;
    }
    return { ids, values, total };
  });
  const average = clusters.length > 0 ? perCluster.reduce((n, c) => n + c.total, 0) / clusters.length : 0;
  const limit = topN * 3 + 10;

  return perCluster.map(({ ids, values, total }) => {
    if (total === 0 || topN <= 0) return [];
    const top: Candidate[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const count = values[i]!;
      const bigram = isBigram[id]!;
      if (count <= 0 || (bigram && count < 2)) continue;
      const score = (count / total) * Math.log(1 + average / frequency[id]!);
      if (top.length === limit && score < top[limit - 1]!.score) continue;
      offer(top, limit, { term: terms[id]!, score, bigram });
    }
    const covered = new Set<string>();
    const keywords: string[] = [];
    for (const { term, bigram } of top) {
      if (keywords.length === topN) break;
      const parts = bigram ? term.split(' ') : [term];
      if (parts.some(isStopword)) continue;
      if (!bigram && covered.has(term)) continue;
      for (const part of parts) covered.add(part);
      keywords.push(term);
    }
    return keywords;
  });
}

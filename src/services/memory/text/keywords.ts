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
  id: number;
  score: number;
  bigram: boolean;
}

/** A vocabulary the scorer reads terms from by id (a string per term only where one is needed). */
export interface TermTable {
  term(id: number): string;
  /** 1 where the term is a bigram ("a b"). */
  isBigram: Uint8Array;
}

/** One cluster's (or topic's) summed counts over a TermTable's ids. */
export interface PackedCounts {
  ids: Int32Array;
  counts: Float64Array;
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
  const idOf = new Map<string, number>();
  const terms: string[] = [];
  const packed = clusters.map((counts) => {
    const keys = Object.keys(counts);
    const ids = new Int32Array(keys.length);
    const values = new Float64Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const term = keys[i]!;
      let id = idOf.get(term);
      if (id === undefined) {
        id = terms.length;
        idOf.set(term, id);
        terms.push(term);
      }
      ids[i] = id;
      values[i] = counts[term]!;
    }
    return { ids, counts: values };
  });
  const table = {
    term: (id: number) => terms[id]!,
    isBigram: Uint8Array.from(terms, (t) => (t.includes(' ') ? 1 : 0)),
  };
  return packedKeywords(table, packed, topN);
}

/**
 * clusterKeywords over packed counts: f(t) and A over every cluster given, keywords only for the
 * clusters in `only` (all when omitted; the others get []). Works on typed arrays throughout: at
 * 100k chunks a build's vocabulary is ~1M terms and 1.5M cluster-term pairs.
 */
export function packedKeywords(
  table: TermTable,
  clusters: readonly PackedCounts[],
  topN = 10,
  only?: readonly number[],
): string[][] {
  const { isBigram } = table;
  const frequency = new Float64Array(isBigram.length);
  const totals = clusters.map(({ ids, counts }) => {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      frequency[id]! += counts[i]!;
      if (!isBigram[id]) total += counts[i]!;
    }
    return total;
  });
  const average = clusters.length > 0 ? totals.reduce((n, t) => n + t, 0) / clusters.length : 0;
  const limit = topN * 3 + 10;
  const names = new Map<number, string>();
  const nameOf = (id: number) => {
    let name = names.get(id);
    if (name === undefined) {
      name = table.term(id);
      names.set(id, name);
    }
    return name;
  };
  // higher score first; on a tie the bigram first (it says more), then alphabetical
  const before = (a: Candidate, b: Candidate): boolean =>
    a.score !== b.score ? a.score > b.score : a.bigram !== b.bigram ? a.bigram : nameOf(a.id) < nameOf(b.id);
  const offer = (top: Candidate[], candidate: Candidate) => {
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
  };
  const wanted = only ? new Set(only) : null;
  return clusters.map(({ ids, counts }, c) => {
    const total = totals[c]!;
    if (total === 0 || topN <= 0 || (wanted && !wanted.has(c))) return [];
    const top: Candidate[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const count = counts[i]!;
      const bigram = isBigram[id] === 1;
      if (count <= 0 || (bigram && count < 2)) continue;
      const score = (count / total) * Math.log(1 + average / frequency[id]!);
      if (top.length === limit && score < top[limit - 1]!.score) continue;
      offer(top, { id, score, bigram });
    }
    const covered = new Set<string>();
    const keywords: string[] = [];
    for (const { id, bigram } of top) {
      if (keywords.length === topN) break;
      const term = nameOf(id);
      const parts = bigram ? term.split(' ') : [term];
      if (parts.some(isStopword)) continue;
      if (!bigram && covered.has(term)) continue;
      for (const part of parts) covered.add(part);
      keywords.push(term);
    }
    return keywords;
  });
}

// Reciprocal rank fusion (Cormack et al., 2009) of the two sides of hybrid search (DESIGN §5):
// each list contributes weight / (k + rank) for every item it holds (rank 1 = its best), so an item
// both sides rank well beats one that either ranks first alone, and neither side's raw scores
// (cosine similarity, full-text rank) have to be made comparable.

export interface FusionWeights {
  /** Weight of the vector (semantic) side. */
  vector: number;
  /** Weight of the lexical (full-text) side. */
  lexical: number;
  /** The rank constant: larger flattens the difference between neighbouring ranks. */
  k: number;
}

/** Which side of hybrid search found a hit. */
export const MATCH_SIDES = ['vector', 'lexical', 'both'] as const;
export type MatchedBy = (typeof MATCH_SIDES)[number];

export interface Fused<V, L> {
  key: string;
  /** The vector side's item and its 1-based rank there, when it found the item. */
  vector: { item: V; rank: number } | null;
  lexical: { item: L; rank: number } | null;
  matchedBy: MatchedBy;
  /**
   * The fused score scaled to [0, 1]: 1 for an item first on both sides, weight / (k + 1) over
   * the weights' sum for an item first on one side only. Comparable within one search.
   */
  score: number;
}

/** Fuses two best-first lists whose items share keys; the best `limit`, best first. */
export function fuseByReciprocalRank<V, L>(
  vector: readonly V[],
  lexical: readonly L[],
  keyOf: { vector: (item: V) => string; lexical: (item: L) => string },
  weights: FusionWeights,
  limit: number,
): Fused<V, L>[] {
  const best = (weights.vector + weights.lexical) / (weights.k + 1);
  const byKey = new Map<string, Fused<V, L> & { raw: number }>();
  const entry = (key: string) => {
    let e = byKey.get(key);
    if (!e) {
      e = { key, vector: null, lexical: null, matchedBy: 'vector', score: 0, raw: 0 };
      byKey.set(key, e);
    }
    return e;
  };
  vector.forEach((item, i) => {
    const e = entry(keyOf.vector(item));
    if (e.vector) return; // a list repeating a key counts its best rank only
    e.vector = { item, rank: i + 1 };
    e.raw += weights.vector / (weights.k + i + 1);
  });
  lexical.forEach((item, i) => {
    const e = entry(keyOf.lexical(item));
    if (e.lexical) return;
    e.lexical = { item, rank: i + 1 };
    e.raw += weights.lexical / (weights.k + i + 1);
  });
  const fused = [...byKey.values()].filter((e) => e.raw > 0);
  for (const e of fused) {
    e.matchedBy = e.vector && e.lexical ? 'both' : e.vector ? 'vector' : 'lexical';
    e.score = best > 0 ? e.raw / best : 0;
  }
  // ties (equal sums): the better single rank, then the vector side's, then the key (stable output)
  const bestRank = (e: Fused<V, L>) => Math.min(e.vector?.rank ?? Infinity, e.lexical?.rank ?? Infinity);
  fused.sort(
    (a, b) =>
      b.raw - a.raw ||
      bestRank(a) - bestRank(b) ||
      (a.vector?.rank ?? Infinity) - (b.vector?.rank ?? Infinity) ||
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  return fused.slice(0, Math.max(0, limit)).map(({ raw: _raw, ...e }) => e);
}

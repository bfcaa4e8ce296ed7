// Projects embeddings of any model to the 128 dims L1 clustering works in (MEMORY-TRAINING A1):
// cheap enough to run once per document and cache, and deterministic given the seed so a cached
// vector and a fresh one always agree. The name goes into the manifest and the extraction cache:
// a different name means the cached vectors are not comparable and must be recomputed.
import { stemmer } from 'stemmer';
import { PROJECTED_DIMS, type TermList } from '../../ports/memory.ts';
import { deriveSeed, mulberry32 } from './numeric.ts';

/** OpenAI text-embedding-3 models are Matryoshka-trained: their first dims are an embedding. */
const isMatryoshka = (embeddingModel: string) => /(^|\/)text-embedding-3/.test(embeddingModel);

export function projectionName(embeddingModel: string, inputDims: number, seed: number): string {
  if (isMatryoshka(embeddingModel) && inputDims >= PROJECTED_DIMS) return `truncate-${PROJECTED_DIMS}`;
  if (inputDims <= PROJECTED_DIMS) return `identity-${inputDims}`;
  return `sparse-rp-${PROJECTED_DIMS}-s${seed}`;
}

/** Per output dim, the input indexes it sums and their signs (Li et al.'s very sparse projection). */
interface SparseProjection {
  offsets: Int32Array;
  indexes: Int32Array;
  signs: Float32Array;
}

const projections = new Map<string, SparseProjection>();
let scratch = new Float64Array(0);

/**
 * Entries are ±√s with probability 1/(2s) each and 0 otherwise, s = √d, scaled by 1/√128 so norms
 * are kept in expectation. The output is renormalised anyway; the scale only keeps values sane.
 */
function sparseProjection(inputDims: number, seed: number): SparseProjection {
  const key = `${inputDims}:${seed}`;
  const cached = projections.get(key);
  if (cached) return cached;
  const s = Math.sqrt(inputDims);
  const half = 1 / (2 * s);
  const value = Math.sqrt(s) / Math.sqrt(PROJECTED_DIMS);
  const rand = mulberry32(deriveSeed(seed, inputDims));
  const offsets = new Int32Array(PROJECTED_DIMS + 1);
  const indexes: number[] = [];
  const signs: number[] = [];
  for (let o = 0; o < PROJECTED_DIMS; o++) {
    for (let i = 0; i < inputDims; i++) {
      const r = rand();
      if (r < half) {
        indexes.push(i);
        signs.push(value);
      } else if (r < 2 * half) {
        indexes.push(i);
        signs.push(-value);
      }
    }
    offsets[o + 1] = indexes.length;
  }
  const projection = { offsets, indexes: Int32Array.from(indexes), signs: Float32Array.from(signs) };
  projections.set(key, projection);
  return projection;
}

/** A unit vector of PROJECTED_DIMS values rounded to 4 decimals (all zeros for a zero input). */
export function projectVector(vector: ArrayLike<number>, embeddingModel: string, seed: number): number[] {
  const d = vector.length;
  const out = new Float64Array(PROJECTED_DIMS);
  if (d <= PROJECTED_DIMS || isMatryoshka(embeddingModel)) {
    const m = Math.min(d, PROJECTED_DIMS);
    for (let j = 0; j < m; j++) out[j] = vector[j]!;
  } else {
    const { offsets, indexes, signs } = sparseProjection(d, seed);
    // one copy into a typed array keeps the gather loop monomorphic whatever the caller passes
    if (scratch.length < d) scratch = new Float64Array(d);
    const x = scratch;
    for (let j = 0; j < d; j++) x[j] = vector[j]!;
    for (let o = 0; o < PROJECTED_DIMS; o++) {
      let sum = 0;
      const end = offsets[o + 1]!;
      for (let e = offsets[o]!; e < end; e++) sum += x[indexes[e]!]! * signs[e]!;
      out[o] = sum;
    }
  }
  let norm = 0;
  for (let j = 0; j < PROJECTED_DIMS; j++) norm += out[j]! * out[j]!;
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const result = new Array<number>(PROJECTED_DIMS);
  for (let j = 0; j < PROJECTED_DIMS; j++) result[j] = Math.round(out[j]! * inv * 1e4) / 1e4;
  return result;
}

/**
 * The offline hash embedder's vectors are character-trigram hashes of the whole text, function
 * words included: two chunks on different subjects look alike to it, and k-means on them mixed
 * three plainly distinct themes (tests/memory.test.ts). For that embedder memory clusters on
 * what the embedder approximates, stated directly: each chunk's content words, stemmed
 * (`stemmer`, Porter), weighted tf·idf over the user's whole corpus and feature-hashed into the
 * same 128 dims. The weights need the corpus, so these sketches are made by each build from the
 * cached term counts (not cached themselves). Without idf, words every topic uses outweighed a
 * topic's own (bench memory: purity 0.18 on 200 planted topics). A semantic embedder's vectors
 * are projected as above instead.
 */
export const TERMS_PROJECTION = `terms-tfidf-stem-${PROJECTED_DIMS}`;

export const isLexicalEmbedder = (embeddingModel: string) => embeddingModel.startsWith('local-hash');

/** FNV-1a: a fast, well-spread 32-bit hash for feature hashing. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const stems = new Map<string, string>();
const SKETCH_HASHES = 4;

function stemOf(term: string): string {
  let stem = stems.get(term);
  if (stem === undefined) {
    stem = stemmer(term);
    if (stems.size < 200_000) stems.set(term, stem);
  }
  return stem;
}

/** Document frequencies of stems over chunks' unigram counts (bigrams are skipped). */
export function stemFrequencies(chunks: Iterable<TermList>): Map<string, number> {
  const df = new Map<string, number>();
  for (const { keys } of chunks) {
    const seen = new Set<string>();
    for (const term of keys) {
      if (term.includes(' ')) continue;
      const stem = stemOf(term);
      if (seen.has(stem)) continue;
      seen.add(stem);
      df.set(stem, (df.get(stem) ?? 0) + 1);
    }
  }
  return df;
}

/**
 * A unit vector of PROJECTED_DIMS (float32) from unigram counts, each stem weighted (1 + log tf) · log(n/df)
 * and hashed into a few buckets (a count sketch: one unlucky collision moves a similarity a
 * little, not by half). Stems in one chunk only say nothing about what chunks share: skipped.
 * All zeros when nothing is left.
 */
export function projectTerms(terms: TermList, df: ReadonlyMap<string, number>, chunks: number): Float32Array {
  const v = new Float64Array(PROJECTED_DIMS);
  for (let t = 0; t < terms.keys.length; t++) {
    const term = terms.keys[t]!;
    if (term.includes(' ')) continue;
    const stem = stemOf(term);
    const f = df.get(stem) ?? 1;
    if (f < 2) continue;
    const weight = (1 + Math.log(terms.counts[t]!)) * Math.log(chunks / f);
    if (weight <= 0) continue;
    let h = fnv1a(stem);
    for (let r = 0; r < SKETCH_HASHES; r++) {
      v[h % PROJECTED_DIMS]! += h & 0x80000000 ? -weight : weight;
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    }
  }
  let norm = 0;
  for (let i = 0; i < PROJECTED_DIMS; i++) norm += v[i]! * v[i]!;
  norm = Math.sqrt(norm);
  // float32, off the JS heap: a build holds one per chunk (100k number[128] arrays were ~110 MB)
  return Float32Array.from(v, (x) => (norm ? x / norm : 0));
}

/** Terms of the sparse tf·idf space, most widespread first: bounds the dims × k centroids. */
export const LEXICAL_MAX_TERMS = 30_000;

export interface LexicalVocabulary {
  /** stem → term id */
  ids: Map<string, number>;
  /** log(n/df) per term id */
  idf: Float32Array;
}

/**
 * The sparse space the lexical embedder's chunks are clustered in (sparse-kmeans.ts): stems in
 * at least two chunks (a stem in one says nothing about what chunks share) and in at most half
 * of them (a stem nearly every chunk has says nothing either), the LEXICAL_MAX_TERMS most common.
 */
export function lexicalVocabulary(
  df: ReadonlyMap<string, number>,
  chunks: number,
  maxTerms = LEXICAL_MAX_TERMS,
): LexicalVocabulary {
  const kept = [...df].filter(([, f]) => f >= 2 && f <= chunks / 2);
  kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const chosen = kept.slice(0, maxTerms);
  const ids = new Map<string, number>();
  const idf = new Float32Array(chosen.length);
  chosen.forEach(([stem, f], i) => {
    ids.set(stem, i);
    idf[i] = Math.log(chunks / f);
  });
  return { ids, idf };
}

/**
 * A chunk's unit tf·idf row: per stem of the vocabulary, (1 + log tf) · idf, tf summed over the
 * unigrams that stem alike; ids ascending. Empty when none of its stems is in the vocabulary.
 */
export function lexicalRow(
  terms: TermList,
  vocabulary: LexicalVocabulary,
): { ids: Int32Array; vals: Float32Array } {
  const tf = new Map<number, number>();
  for (let t = 0; t < terms.keys.length; t++) {
    const term = terms.keys[t]!;
    if (term.includes(' ')) continue;
    const id = vocabulary.ids.get(stemOf(term));
    if (id !== undefined) tf.set(id, (tf.get(id) ?? 0) + terms.counts[t]!);
  }
  const ids = Int32Array.from(tf.keys()).sort();
  const vals = new Float32Array(ids.length);
  let norm = 0;
  ids.forEach((id, i) => {
    const w = (1 + Math.log(tf.get(id)!)) * vocabulary.idf[id]!;
    vals[i] = w;
    norm += w * w;
  });
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < vals.length; i++) vals[i]! *= inv;
  return { ids, vals };
}

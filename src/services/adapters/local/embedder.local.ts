import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type Embedder, embeddingModelTag } from '../../ports/embedder.ts';

/** The model name; its tag carries the size too (`local-hash-v1@384`). */
export const LOCAL_EMBEDDING_MODEL = 'local-hash-v1';
export const LOCAL_EMBEDDING_DIMENSIONS = 384;

const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’_-]*/gu;

// FNV-1a over UTF-16 code units: fast, stable across processes and Node versions.
function fnv1a(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A deterministic "hashing trick" embedder used when no embedding API is configured: word
 * unigrams and character trigrams of each word are hashed (with a sign bit, to cancel collisions
 * on average) into a fixed number of dimensions and L2-normalised. It captures lexical overlap,
 * not meaning; it exists so the whole pipeline runs offline and tests are reproducible.
 */
const YIELD_EVERY = 32;

export class LocalHashEmbedder implements Embedder {
  readonly kind = 'local' as const;
  readonly model: string;
  readonly dimensions: number;
  /** Why this embedder stands in for the semantic model (`Query.embedder`), when it does. */
  readonly fallbackReason?: string;

  constructor(dimensions = LOCAL_EMBEDDING_DIMENSIONS, fallbackReason?: string) {
    this.fallbackReason = fallbackReason;
    if (!Number.isInteger(dimensions) || dimensions < 8) throw new Error('dimensions must be an integer ≥ 8');
    this.dimensions = dimensions;
    this.model = embeddingModelTag(LOCAL_EMBEDDING_MODEL, dimensions);
  }

  async ready(): Promise<void> {}

  embedOne(text: string): number[] {
    const dims = this.dimensions;
    const v = new Float64Array(dims);
    const add = (feature: string, weight: number) => {
      const h = fnv1a(feature, 0);
      v[h % dims]! += h & 0x80000000 ? -weight : weight;
    };
    for (const match of text.toLowerCase().matchAll(WORD)) {
      const word = match[0];
      add(word, 1);
      if (word.length > 3) {
        const padded = `^${word}$`;
        for (let i = 0; i + 3 <= padded.length; i++) add(padded.slice(i, i + 3), 0.35);
      }
    }
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += v[i]! * v[i]!;
    norm = Math.sqrt(norm);
    const out = new Array<number>(dims);
    for (let i = 0; i < dims; i++) out[i] = norm === 0 ? 0 : Math.round((v[i]! / norm) * 1e6) / 1e6;
    return out;
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    signal?.throwIfAborted();
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i++) {
      // hashing runs on the calling thread: let queries in between slices of a long batch
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToLoop();
      out.push(this.embedOne(texts[i]!));
    }
    return out;
  }
}

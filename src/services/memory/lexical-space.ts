// The sparse tf·idf space the offline lexical embedder's chunks are clustered in, made by each
// build from the cached term counts (the weights need the whole corpus), and kept by the worker
// for the next update, which reuses its weights and every unchanged chunk's sketch and row.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ChunkItem } from './clustering.ts';
import {
  type LexicalVocabulary,
  lexicalRow,
  lexicalVocabulary,
  projectTerms,
  stemFrequencies,
  TERMS_PROJECTION,
} from './compute/projection.ts';
import type { SparseRows } from './compute/sparse-kmeans.ts';

/** The manifest's projection when the chunks were clustered on their sparse tf·idf rows. */
export const SPARSE_PROJECTION = 'terms-tfidf-sparse';

/** A build's lexical weights and each chunk's sketch and row, for the next update to keep. */
export interface LexicalSpace {
  df: Map<string, number>;
  chunks: number;
  vocabulary: LexicalVocabulary;
  /** The build's items in order (by chunk id): their ids, text hashes, sketches and rows. */
  chunkIds: string[];
  textShas: string[];
  projected: ArrayLike<number>[];
  rows: SparseRows;
}

/**
 * The offline embedder's chunks are clustered on their sparse tf·idf rows (sparse-kmeans.ts),
 * returned here when every chunk of the build is such a chunk (else null: a mix of spaces, as in
 * a model change, stays on the dense vectors); their dense sketches (projection.ts) still give the
 * stored centroids and the representatives. The weights come from the whole corpus, so both are
 * made here from the cached term counts, yielding now and then; with `reuse` (an incremental
 * update) the previous build's weights are kept, and so are the sketch and row of every chunk
 * that did not change.
 */
export async function sketchLexical(
  items: ChunkItem[],
  extractions: readonly { documentId: string; projection: string }[],
  reuse: LexicalSpace | null,
): Promise<{ sparse: SparseRows | null; lexical: LexicalSpace | null }> {
  if (!extractions.some((e) => e.projection === TERMS_PROJECTION)) return { sparse: null, lexical: null };
  const lexical = new Set(
    extractions.filter((e) => e.projection === TERMS_PROJECTION).map((e) => e.documentId),
  );
  const chosen = items.filter((i) => lexical.has(i.documentId));
  const all = chosen.length === items.length;
  let df = reuse?.df;
  const chunks = reuse?.chunks ?? chosen.length;
  if (!reuse || !all) {
    df = new Map<string, number>();
    for (let from = 0; from < chosen.length; from += 2000) {
      const part = stemFrequencies(chosen.slice(from, from + 2000).map((i) => i.terms));
      for (const [stem, n] of part) df.set(stem, (df.get(stem) ?? 0) + n);
      await yieldToLoop();
    }
  }
  if (!all) {
    for (let i = 0; i < chosen.length; i++) {
      chosen[i]!.projected = projectTerms(chosen[i]!.terms, df!, chosen.length);
      if (i % 2000 === 1999) await yieldToLoop();
    }
    return { sparse: null, lexical: null };
  }
  const vocabulary = reuse?.vocabulary ?? lexicalVocabulary(df!, items.length);
  // both the items and the previous build's are sorted by chunk id: one walk pairs them (no Map
  // of 100k ids), and a pair with the same text takes the previous sketch and row as they are
  const n = items.length;
  const offsets = new Int32Array(n + 1);
  const fresh: ({ ids: Int32Array; vals: Float32Array } | null)[] = new Array(n).fill(null);
  const from = new Int32Array(n).fill(-1);
  let j = 0;
  for (let i = 0; i < n; i++) {
    const item = items[i]!;
    if (reuse) {
      const prevIds = reuse.chunkIds;
      while (j < prevIds.length && prevIds[j]! < item.chunkId) j++;
      if (j < prevIds.length && prevIds[j] === item.chunkId && reuse.textShas[j] === item.textSha)
        from[i] = j;
    }
    let length: number;
    if (from[i]! >= 0) {
      item.projected = reuse!.projected[from[i]!]!;
      length = reuse!.rows.offsets[from[i]! + 1]! - reuse!.rows.offsets[from[i]!]!;
    } else {
      item.projected = projectTerms(item.terms, df!, chunks);
      const row = lexicalRow(item.terms, vocabulary);
      fresh[i] = row;
      length = row.ids.length;
    }
    offsets[i + 1] = offsets[i]! + length;
    if (i % 2000 === 1999) await yieldToLoop();
  }
  const ids = new Int32Array(offsets[n]!);
  const vals = new Float32Array(ids.length);
  for (let i = 0; i < n; i++) {
    const at = offsets[i]!;
    const row = fresh[i];
    if (row) {
      ids.set(row.ids, at);
      vals.set(row.vals, at);
    } else {
      const src = reuse!.rows;
      const start = src.offsets[from[i]!]!;
      const length = offsets[i + 1]! - at;
      for (let e = 0; e < length; e++) {
        ids[at + e] = src.ids[start + e]!;
        vals[at + e] = src.vals[start + e]!;
      }
    }
    if (i % 10_000 === 9999) await yieldToLoop();
  }
  const rows: SparseRows = { offsets, ids, vals, n, dims: vocabulary.idf.length };
  return {
    sparse: rows,
    lexical: {
      df: df!,
      chunks,
      vocabulary,
      chunkIds: items.map((i) => i.chunkId),
      textShas: items.map((i) => i.textSha),
      projected: items.map((i) => i.projected),
      rows,
    },
  };
}

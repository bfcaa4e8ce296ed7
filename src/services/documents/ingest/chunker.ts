// Semantic chunking at topic boundaries (DESIGN §6). Pure: the same text, options and embedder
// always give the same chunks, so a re-run of an ingest overwrites exactly what it wrote before.

export interface PageSpan {
  /** 1-based page number. */
  page: number;
  /** Char offset in the extracted text where this page starts. */
  start: number;
}

export interface Chunk {
  index: number;
  text: string;
  charStart: number;
  charEnd: number;
  page: number | null;
  tokens: number;
}

export interface ChunkOptions {
  minTokens: number;
  maxTokens: number;
  /** Sentences on each side of a candidate boundary that are compared. */
  window?: number;
  /** A boundary breaks when its similarity is below mean − k·stddev of the document's boundaries. */
  k?: number;
  /** The text's sentenceSpans(text, maxTokens), when already split (in the extract pool's thread). */
  spans?: Span[];
}

export type EmbedFn = (texts: string[]) => Promise<number[][]>;

export interface Span {
  start: number;
  end: number;
  /** A paragraph break (blank line) precedes the next span. */
  paragraphEnd: boolean;
}

const tokensBetween = (start: number, end: number) => Math.ceil((end - start) / 4);

/** A cheap, tokenizer-free estimate (~4 chars per token for English prose). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
const wordSegmenter = new Intl.Segmenter('en', { granularity: 'word' });

function trimmed(text: string, start: number, end: number): [number, number] {
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return [start, end];
}

/** Sentence spans of the text; paragraphs never share a sentence, overlong sentences are cut at words. */
export function sentenceSpans(text: string, maxTokens: number): Span[] {
  const spans: Span[] = [];
  const maxChars = maxTokens * 4;
  const paragraph = /\n[ \t]*\n\s*/g;
  let from = 0;
  const paragraphs: [number, number][] = [];
  for (const m of text.matchAll(paragraph)) {
    paragraphs.push([from, m.index]);
    from = m.index + m[0].length;
  }
  paragraphs.push([from, text.length]);
  for (const [pStart, pEnd] of paragraphs) {
    const body = text.slice(pStart, pEnd);
    const before = spans.length;
    for (const seg of segmenter.segment(body)) {
      const [s, e] = trimmed(text, pStart + seg.index, pStart + seg.index + seg.segment.length);
      if (e <= s) continue;
      if (e - s <= maxChars) {
        spans.push({ start: s, end: e, paragraphEnd: false });
        continue;
      }
      // a "sentence" longer than a chunk (tables, minified text): cut at word boundaries
      let cut = s;
      let last = s;
      for (const w of wordSegmenter.segment(text.slice(s, e))) {
        const at = s + w.index;
        if (at - cut >= maxChars && last > cut) {
          spans.push({ start: cut, end: last, paragraphEnd: false });
          cut = last;
        }
        if (!w.isWordLike) last = at + w.segment.length;
        if (at - cut >= maxChars) {
          spans.push({ start: cut, end: at, paragraphEnd: false });
          cut = at;
          last = at;
        }
      }
      if (e > cut) spans.push({ start: cut, end: e, paragraphEnd: false });
    }
    if (spans.length > before) spans[spans.length - 1]!.paragraphEnd = true;
  }
  for (const span of spans) [span.start, span.end] = trimmed(text, span.start, span.end);
  return spans.filter((s) => s.end > s.start);
}

function cosine(a: Float64Array, b: Float64Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

function windowSum(vectors: readonly (readonly number[])[], from: number, to: number, dims: number) {
  const out = new Float64Array(dims);
  for (let j = from; j < to; j++) {
    const v = vectors[j]!;
    for (let d = 0; d < dims; d++) out[d]! += v[d] ?? 0;
  }
  return out;
}

/** Similarity between the `window` sentences before and after each boundary (length n−1). */
export function boundarySimilarities(vectors: readonly (readonly number[])[], window: number): number[] {
  const n = vectors.length;
  if (n < 2) return [];
  const dims = vectors[0]!.length;
  const sims: number[] = [];
  for (let i = 1; i < n; i++) {
    const left = windowSum(vectors, Math.max(0, i - window), i, dims);
    const right = windowSum(vectors, i, Math.min(n, i + window), dims);
    sims.push(cosine(left, right));
  }
  return sims;
}

// Sentences are embedded in batches and only `window` vectors are kept across batches, so a
// very long document never holds every sentence vector at once.
const EMBED_BATCH = 512;

export async function streamedSimilarities(
  sentences: readonly string[],
  embed: EmbedFn,
  window: number,
): Promise<number[]> {
  const n = sentences.length;
  const sims: number[] = [];
  let kept: number[][] = [];
  let keptFrom = 0; // sentence index of kept[0]
  for (let from = 0; from < n; from += EMBED_BATCH) {
    kept = kept.concat(await embed(sentences.slice(from, from + EMBED_BATCH)));
    const available = Math.min(n, from + EMBED_BATCH);
    const dims = kept[0]!.length;
    // boundary i sits between sentences i-1 and i and needs sentences up to i+window-1
    for (let i = sims.length + 1; i < n && (i + window <= available || available === n); i++) {
      const at = i - keptFrom;
      const left = windowSum(kept, Math.max(0, at - window), at, dims);
      const right = windowSum(kept, at, Math.min(kept.length, at + window), dims);
      sims.push(cosine(left, right));
    }
    const drop = Math.max(0, sims.length + 1 - window - keptFrom);
    kept = kept.slice(drop);
    keptFrom += drop;
  }
  return sims;
}

export function pageAt(pages: readonly PageSpan[] | undefined, offset: number): number | null {
  if (!pages || pages.length === 0) return null;
  let lo = 0;
  let hi = pages.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (pages[mid]!.start <= offset) lo = mid;
    else hi = mid - 1;
  }
  return pages[lo]!.page;
}

/**
 * Splits text into chunks of minTokens..maxTokens, preferring to break where the similarity of
 * neighbouring sentence windows drops (a topic change) and, failing that, at paragraph ends.
 */
export async function chunkText(
  text: string,
  embed: EmbedFn,
  options: ChunkOptions,
  pages?: readonly PageSpan[],
): Promise<Chunk[]> {
  const { minTokens, maxTokens } = options;
  if (minTokens > maxTokens) throw new Error('minTokens must not exceed maxTokens');
  const window = options.window ?? 2;
  const k = options.k ?? 0.5;
  const spans = options.spans ?? sentenceSpans(text, maxTokens);
  if (spans.length === 0) return [];

  const sims =
    spans.length > 1
      ? await streamedSimilarities(
          spans.map((s) => text.slice(s.start, s.end)),
          embed,
          window,
        )
      : [];
  const mean = sims.reduce((a, b) => a + b, 0) / Math.max(1, sims.length);
  const std = Math.sqrt(sims.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, sims.length));
  const threshold = mean - k * std;

  const chunks: Chunk[] = [];
  const emit = (from: number, to: number) => {
    const start = spans[from]!.start;
    const end = spans[to]!.end;
    chunks.push({
      index: chunks.length,
      text: text.slice(start, end),
      charStart: start,
      charEnd: end,
      page: pageAt(pages, start),
      tokens: tokensBetween(start, end),
    });
  };

  let first = 0;
  for (let i = 0; i < spans.length - 1; i++) {
    const currentTokens = tokensBetween(spans[first]!.start, spans[i]!.end);
    const withNext = tokensBetween(spans[first]!.start, spans[i + 1]!.end);
    const sim = sims[i]!;
    const topicShift = sim < threshold;
    const isLocalMin =
      sim <= (sims[i - 1] ?? Number.POSITIVE_INFINITY) && sim <= (sims[i + 1] ?? Number.POSITIVE_INFINITY);
    // a chunk that starts on one page does not run into the next: citations stay exact
    const pageBreak =
      pages !== undefined && pageAt(pages, spans[i + 1]!.start) !== pageAt(pages, spans[first]!.start);
    const breakHere =
      withNext > maxTokens ||
      (pageBreak && currentTokens >= minTokens) ||
      (currentTokens >= minTokens &&
        ((topicShift && isLocalMin) ||
          (spans[i]!.paragraphEnd && sim < mean && currentTokens >= (minTokens + maxTokens) / 2)));
    if (breakHere) {
      emit(first, i);
      first = i + 1;
    }
  }
  emit(first, spans.length - 1);

  // a short tail is merged into its predecessor when both fit
  if (chunks.length > 1) {
    const last = chunks[chunks.length - 1]!;
    const prev = chunks[chunks.length - 2]!;
    if (
      last.tokens < minTokens &&
      last.page === prev.page &&
      tokensBetween(prev.charStart, last.charEnd) <= maxTokens
    ) {
      chunks.pop();
      chunks.pop();
      chunks.push({
        index: prev.index,
        text: text.slice(prev.charStart, last.charEnd),
        charStart: prev.charStart,
        charEnd: last.charEnd,
        page: prev.page,
        tokens: tokensBetween(prev.charStart, last.charEnd),
      });
    }
  }
  return chunks;
}

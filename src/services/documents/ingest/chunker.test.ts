import { describe, expect, it } from 'vitest';
import { LocalHashEmbedder } from '../../adapters/local/embedder.local.ts';
import { boundarySimilarities, chunkText, sentenceSpans, streamedSimilarities } from './chunker.ts';

const embedder = new LocalHashEmbedder();
const embed = (texts: string[]) => embedder.embed(texts);

const sailing = Array.from(
  { length: 12 },
  (_, i) =>
    `The sailboat crossed the harbour with its mainsail trimmed and the jib sheet eased (${i}). Sailors watched the wind on the water and the boat heeled in the gusts.`,
).join(' ');
const baking = Array.from(
  { length: 12 },
  (_, i) =>
    `Sourdough bread needs flour, water, salt and a lively starter (${i}). The baker folds the dough, proofs it overnight and bakes it in a hot oven.`,
).join(' ');

describe('chunkText', () => {
  it('breaks where the topic changes, keeping exact char offsets', async () => {
    const text = `${sailing} ${baking}`;
    const chunks = await chunkText(text, embed, { minTokens: 40, maxTokens: 2000 });
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    for (const c of chunks) expect(text.slice(c.charStart, c.charEnd)).toBe(c.text);
    // no chunk mixes the two topics
    for (const c of chunks) {
      expect(c.text.includes('sail') && c.text.includes('dough')).toBe(false);
    }
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
  });

  it('respects the maximum size and covers all the text in order', async () => {
    const text = `${sailing}\n\n${baking}`;
    const chunks = await chunkText(text, embed, { minTokens: 10, maxTokens: 60 });
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(60);
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]!.charStart).toBeGreaterThanOrEqual(chunks[i - 1]!.charEnd);
      expect(text.slice(chunks[i - 1]!.charEnd, chunks[i]!.charStart).trim()).toBe('');
    }
    expect(chunks[0]!.charStart).toBe(0);
    expect(chunks.at(-1)!.charEnd).toBe(text.length);
  });

  it('is deterministic and changes with the size options', async () => {
    const text = `${sailing}\n\n${baking}`;
    const a = await chunkText(text, embed, { minTokens: 20, maxTokens: 120 });
    const b = await chunkText(text, embed, { minTokens: 20, maxTokens: 120 });
    expect(b).toEqual(a);
    const c = await chunkText(text, embed, { minTokens: 10, maxTokens: 50 });
    expect(c.length).toBeGreaterThan(a.length);
  });

  it('keeps the page of each chunk', async () => {
    const page1 = sailing;
    const text = `${page1}\n\n${baking}`;
    const pages = [
      { page: 1, start: 0 },
      { page: 2, start: page1.length + 2 },
    ];
    const chunks = await chunkText(text, embed, { minTokens: 10, maxTokens: 80 }, pages);
    expect(chunks[0]!.page).toBe(1);
    expect(chunks.at(-1)!.page).toBe(2);
    for (const c of chunks) expect(c.page).toBe(c.charStart >= pages[1]!.start ? 2 : 1);
  });

  it('cuts an overlong sentence at word boundaries and handles empty text', async () => {
    const long = Array.from({ length: 2000 }, (_, i) => `word${i}`).join(' ');
    const chunks = await chunkText(long, embed, { minTokens: 10, maxTokens: 100 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      expect(c.tokens).toBeLessThanOrEqual(100);
      expect(c.text).toMatch(/^word\d+/);
      expect(c.text).toMatch(/word\d+$/);
    }
    expect(await chunkText('   \n\n ', embed, { minTokens: 1, maxTokens: 10 })).toEqual([]);
  });

  it('gives the same similarities when sentences are embedded in batches', async () => {
    const text = Array.from(
      { length: 1300 },
      (_, i) => `Sentence number ${i % 7} about topic ${i % 13}.`,
    ).join(' ');
    const spans = sentenceSpans(text, 400);
    expect(spans.length).toBe(1300);
    const vectors = await embed(spans.map((s) => text.slice(s.start, s.end)));
    const direct = boundarySimilarities(vectors, 2);
    const streamed = await streamedSimilarities(
      spans.map((s) => text.slice(s.start, s.end)),
      embed,
      2,
    );
    expect(direct).toHaveLength(1299);
    expect(streamed).toEqual(direct);
  });
});

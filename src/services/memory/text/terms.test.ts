import { describe, expect, it } from 'vitest';
import { countWords, firstPersonCount, isStopword, termCounts } from './terms.ts';

describe('termCounts', () => {
  it('keeps content words and bigrams of adjacent kept words, lower-cased', () => {
    const counts = termCounts("I don't like rain. We went Sailing with Anna's boat, the sailing boat!");
    expect(counts).toEqual({
      rain: 1,
      sailing: 2,
      anna: 1,
      boat: 2,
      'sailing anna': 1,
      'anna boat': 1,
      'sailing boat': 1,
    });
  });

  it('drops stopwords, contractions, numbers and one-letter tokens', () => {
    const counts = termCounts("It's 2024 and I'm sure we'll do x 42 things: you're 3d covid19 ok.");
    expect(Object.keys(counts).filter((t) => !t.includes(' '))).toEqual(['sure', 'covid19']);
    for (const term of Object.keys(counts))
      for (const w of term.split(' ')) expect(isStopword(w)).toBe(false);
  });

  it('never forms a bigram across a sentence break', () => {
    expect(termCounts('Lisbon. Trains')).toEqual({ lisbon: 1, trains: 1 });
  });

  it('has no inherited keys such as "constructor"', () => {
    const counts = termCounts('constructor');
    expect(counts.constructor).toBe(1);
    expect(counts.toString).toBeUndefined();
  });

  it('counts 100k chunks of ~60 words in a few seconds', () => {
    const words =
      'sailing trip harbour weather friend Lisbon ferry morning coffee market evening music'.split(' ');
    const chunks: string[] = [];
    for (let c = 0; c < 2000; c++) {
      const out: string[] = [];
      for (let i = 0; i < 60; i++) out.push(i % 3 === 0 ? 'the' : words[(c * 7 + i * 13) % words.length]!);
      chunks.push(`${out.join(' ')}.`);
    }
    const start = performance.now();
    let terms = 0;
    for (let round = 0; round < 50; round++)
      for (const chunk of chunks) terms += Object.keys(termCounts(chunk)).length;
    const ms = performance.now() - start;
    const bytes = chunks.reduce((n, c) => n + c.length, 0) * 50;
    console.log(
      `termCounts: 100000 chunks (${(bytes / 1e6).toFixed(1)} MB) in ${ms.toFixed(0)} ms, ${terms} terms`,
    );
    expect(ms).toBeLessThan(30_000);
  });
});

describe('termCounts over prose', () => {
  it('prints its time over ~1 MB of prose', () => {
    const prose =
      "I went sailing with my friend Anna Kowalski in Gdansk last summer. The weather was grey, so we didn't stay long; " +
      'Dr. Maria Chen told me about her new job at Google in Lisbon, e.g. the trams and the old harbour. ';
    const text = prose.repeat(Math.ceil(1_000_000 / prose.length));
    const chunks = text.match(/[\s\S]{1,360}(?:\s|$)/g)!;
    const start = performance.now();
    let terms = 0;
    for (const chunk of chunks) terms += Object.keys(termCounts(chunk)).length;
    console.log(
      `termCounts: ${chunks.length} chunks (${(text.length / 1e6).toFixed(2)} MB) in ${(performance.now() - start).toFixed(0)} ms`,
    );
    expect(terms).toBeGreaterThan(chunks.length);
  });
});

describe('countWords and firstPersonCount', () => {
  it('counts words with inner apostrophes as one', () => {
    expect(countWords("I don't know, Dr. Chen's 2 cats.")).toBe(7);
    expect(countWords('')).toBe(0);
  });

  it('counts first-person pronouns as whole words, any case', () => {
    expect(firstPersonCount("I'm here, I've seen MY own; we and us. Ourselves, mine, myself, ours, me")).toBe(
      10,
    );
    expect(firstPersonCount('Iris, meme, music, wear, user, mineral, iPhone')).toBe(0);
  });
});

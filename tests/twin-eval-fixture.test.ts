import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractText } from '../src/services/documents/ingest/extract.ts';

// The personal evaluation fixture (tests/fixtures/twin-eval/README.md): every question is
// well-formed and every evidence quote is an exact substring of its file, both of the bytes and of
// the text the ingest extracts from them (what chunks hold, so what retrieval can find).
const root = join(import.meta.dirname, 'fixtures', 'twin-eval');
const corpus = join(root, 'corpus');
const TYPES = ['single-hop', 'multi-hop', 'temporal', 'updated-fact', 'unanswerable'] as const;

interface Question {
  id: string;
  type: (typeof TYPES)[number];
  question: string;
  answer: string;
  mustContain: string[];
  outdated?: string[];
  evidence: { file: string; quote: string }[];
}

const questions = JSON.parse(readFileSync(join(root, 'questions.json'), 'utf8')) as Question[];
const files = readdirSync(corpus).sort();

describe('twin-eval fixture', () => {
  it('has 40 well-formed questions with unique ids, in the mix MEMORY-TRAINING D names', () => {
    expect(questions).toHaveLength(40);
    expect(new Set(questions.map((q) => q.id)).size).toBe(questions.length);
    const counts = Object.fromEntries(TYPES.map((t) => [t, questions.filter((q) => q.type === t).length]));
    expect(counts).toEqual({
      'single-hop': 15,
      'multi-hop': 8,
      temporal: 7,
      'updated-fact': 5,
      unanswerable: 5,
    });
    for (const q of questions) {
      expect(Object.keys(q).sort(), q.id).toEqual(
        [
          'answer',
          'evidence',
          'id',
          'mustContain',
          'question',
          'type',
          ...(q.outdated ? ['outdated'] : []),
        ].sort(),
      );
      expect(TYPES, q.id).toContain(q.type);
      expect(q.question.trim().endsWith('?'), q.id).toBe(true);
      expect(q.answer.trim().length, q.id).toBeGreaterThan(0);
      if (q.type === 'unanswerable') {
        expect(q.mustContain, q.id).toEqual([]);
        expect(q.evidence, q.id).toEqual([]);
        continue;
      }
      expect(q.mustContain.length, q.id).toBeGreaterThan(0);
      expect(q.evidence.length, q.id).toBeGreaterThan(0);
      if (q.type === 'multi-hop')
        expect(new Set(q.evidence.map((e) => e.quote)).size, q.id).toBeGreaterThan(1);
      if (q.type === 'updated-fact') expect(q.outdated?.length, q.id).toBeGreaterThan(0);
      // the reference answer holds its own key facts (case-insensitive, as a scorer matches them)
      for (const key of q.mustContain)
        expect(q.answer.toLowerCase(), `${q.id}: ${key}`).toContain(key.toLowerCase());
    }
  });

  it('quotes every piece of evidence exactly from its file and from the text the ingest extracts', async () => {
    const extracted = new Map<string, string>();
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(join(corpus, file)));
      extracted.set(file, (await extractText(bytes, file, { maxUncompressedBytes: 1 << 20 })).text);
    }
    for (const q of questions) {
      for (const { file, quote } of q.evidence) {
        expect(files, `${q.id}: ${file}`).toContain(file);
        expect(quote.trim().length, q.id).toBeGreaterThan(10);
        expect(readFileSync(join(corpus, file), 'utf8'), `${q.id} raw`).toContain(quote);
        expect(extracted.get(file), `${q.id} extracted`).toContain(quote);
      }
    }
  });

  it('ingests its chats as chat exports and never copies a question from the corpus', async () => {
    const formats = new Map<string, string>();
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(join(corpus, file)));
      formats.set(file, (await extractText(bytes, file, { maxUncompressedBytes: 1 << 20 })).format);
    }
    expect([...formats].filter(([, f]) => f === 'chat-json').map(([name]) => name)).toHaveLength(4);
    expect(formats.get('biscotti-adoption.html')).toBe('html');
    const all = files.map((f) => readFileSync(join(corpus, f), 'utf8').toLowerCase()).join('\n');
    for (const q of questions) expect(all, q.id).not.toContain(q.question.toLowerCase().replace(/\?$/, ''));
  });
});

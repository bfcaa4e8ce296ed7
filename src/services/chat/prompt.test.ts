import { describe, expect, it } from 'vitest';
import { buildPrompt, estimateTokens } from './prompt.ts';

const source = (text: string, score: number, id: string) => ({ text, score, id, filename: `${id}.md` });

describe('buildPrompt', () => {
  it('numbers the sources it includes and returns exactly those', () => {
    const built = buildPrompt({
      bio: 'I am a marine biologist who lives in Lisbon.',
      question: 'Where do I live?',
      sources: [source('I moved to Lisbon in 2019.', 0.9, 'a'), source('Octopuses are clever.', 0.5, 'b')],
      history: [],
      contextTokens: 1000,
      historyTokens: 1000,
    });
    expect(built.sources.map((s) => [s.n, s.id])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    const system = built.messages[0]!;
    expect(system.role).toBe('system');
    expect(system.content).toContain('[1] (from a.md) I moved to Lisbon in 2019.');
    expect(system.content).toContain('[2] (from b.md) Octopuses are clever.');
    expect(system.content).toContain('marine biologist');
    expect(built.messages.at(-1)).toEqual({ role: 'user', content: 'Where do I live?' });
  });

  it('leaves out sources past the context budget, so citations never name a source the model did not see', () => {
    const long = 'x'.repeat(400);
    const built = buildPrompt({
      bio: null,
      question: 'q',
      sources: [source(long, 0.9, 'a'), source(long, 0.8, 'b'), source('short', 0.7, 'c')],
      history: [],
      contextTokens: 130,
      historyTokens: 0,
    });
    expect(built.sources.map((s) => s.id)).toEqual(['a', 'c']);
    expect(built.sources.map((s) => s.n)).toEqual([1, 2]);
    expect(built.messages[0]!.content).not.toContain('[3]');
    expect(built.messages[0]!.content).toContain('[2] (from c.md) short');
  });

  it('keeps the most recent turns that fit the history budget, in order, starting on a user turn', () => {
    const history = [
      { role: 'user' as const, content: 'first question '.repeat(20) },
      { role: 'assistant' as const, content: 'first answer' },
      { role: 'user' as const, content: 'second question' },
      { role: 'assistant' as const, content: 'second answer' },
    ];
    const budget =
      estimateTokens('first answer') +
      estimateTokens('second question') +
      estimateTokens('second answer') +
      12;
    const built = buildPrompt({
      bio: null,
      question: 'third',
      sources: [],
      history,
      contextTokens: 0,
      historyTokens: budget,
    });
    expect(built.messages.map((m) => m.content)).toEqual([
      expect.any(String),
      'second question',
      'second answer',
      'third',
    ]);
    expect(built.messages[0]!.content).toContain('(none match this question)');
  });

  it('says nothing about a biography when memory has none', () => {
    const built = buildPrompt({
      bio: '  ',
      question: 'q',
      sources: [],
      history: [],
      contextTokens: 10,
      historyTokens: 10,
    });
    expect(built.messages[0]!.content).not.toContain('biography:');
  });
});

describe('buildPrompt with L1 memory', () => {
  it('names the memory topic of each source it has one for', () => {
    const built = buildPrompt({
      bio: 'You write most about sailing.',
      question: 'When did I sail?',
      sources: [
        { ...source('I sailed to Porto in May.', 0.9, 'a'), topic: 'sailing, boat, harbour' },
        source('Unplaced passage.', 0.5, 'b'),
      ],
      history: [],
      contextTokens: 1000,
      historyTokens: 1000,
    });
    const system = built.messages[0]!.content;
    expect(system).toContain('[1] (from a.md; topic: sailing, boat, harbour) I sailed to Porto in May.');
    expect(system).toContain('[2] (from b.md) Unplaced passage.');
    expect(system).toContain('You write most about sailing.');
  });
});

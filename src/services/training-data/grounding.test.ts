import { describe, expect, it } from 'vitest';
import { dedupe, groundingProblem } from './assemble.ts';
import { fixture } from './fixture.test-helpers.ts';
import { factsOf, isRefusal, unsourcedFacts, vocabulary } from './grounding.ts';
import type { Draft } from './records.ts';

const draft = (
  question: string,
  answer: string,
  sourceChunkIds: string[],
  type: Draft['type'] = 'preference',
): Draft => ({
  type,
  question,
  answer,
  sourceChunkIds,
  generator: 'llm:m',
  meta: {},
});

describe('grounding', () => {
  it('reads names inside sentences, two-word names at a sentence start, and numbers', () => {
    expect(factsOf('Absolutely. I sailed with Anna to Gdansk in 2019, twice [1].')).toEqual({
      names: ['Anna', 'Gdansk'],
      numbers: ['2019'],
    });
    expect(factsOf('Maria Chen taught me. I bake two loaves and 1,500 rolls.')).toEqual({
      names: ['Maria', 'Chen'],
      numbers: ['1500', 'two'],
    });
    expect(factsOf("I'm sure I've been there.").names).toEqual([]);
  });

  it('flags what the sources do not hold, case and possessives aside', () => {
    const allowed = vocabulary('I sail with anna kowalski out of Gdansk in 4 hours.');
    expect(unsourcedFacts("Anna Kowalski's boat left Gdansk after 4 hours.", allowed)).toEqual([]);
    expect(unsourcedFacts('Anna and Piotr sailed for 6 hours.', allowed)).toEqual(['Piotr', '6']);
  });

  it('drops an answer with a hallucinated number, a refusal, an overlong one, or one without sources', () => {
    const { material } = fixture();
    const source = ['doc-sailing:0'];
    expect(
      groundingProblem(draft('How long?', 'We crossed the bay in 4 hours.', source), material),
    ).toBeNull();
    expect(groundingProblem(draft('How long?', 'We crossed the bay in 7 hours.', source), material)).toBe(
      'unsourced-fact',
    );
    expect(groundingProblem(draft('Who?', 'I sailed with Piotr.', source), material)).toBe('unsourced-fact');
    // a name the question holds may be repeated
    expect(
      groundingProblem(draft('Is Piotr a friend?', 'I never mention Piotr.', source), material),
    ).toBeNull();
    expect(groundingProblem(draft('Q?', 'None', source), material)).toBe('refusal');
    expect(groundingProblem(draft('Q?', 'I sail. '.repeat(200), source), material)).toBe('too-long');
    expect(groundingProblem(draft('Q?', 'I sail.', []), material)).toBe('unsourced-fact');
    expect(groundingProblem(draft('Q?', 'I sail.', ['doc-gone:0']), material)).toBe('unsourced-fact');
    expect(isRefusal('I cannot generate an answer for this.')).toBe(true);
    expect(isRefusal('Nonetheless I sail.')).toBe(false);
  });
});

describe('dedupe', () => {
  const drafts = [
    draft('What do you think about sailing?', 'a', ['x']),
    draft('what do you think about SAILING ??', 'b', ['y']),
    draft('What do you think about baking?', 'c', ['z']),
    draft('Tell me about sailing.', 'd', ['w']),
  ];

  it('collapses exact duplicates of the normalised question to the first', () => {
    expect(dedupe(drafts, null)).toEqual({ kept: [0, 2, 3], duplicates: 1 });
  });

  it('collapses near duplicates by embedding cosine ≥ 0.95', () => {
    const vectors = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0.99, 0.1, 0],
    ];
    expect(dedupe(drafts, vectors)).toEqual({ kept: [0, 2], duplicates: 2 });
  });
});

describe('chat material', () => {
  it('keeps the person’s turns only, and a chunk’s opening text only when it continues theirs', async () => {
    const { ownTurns } = await import('../memory/text/own-turns.ts');
    const chunk =
      'Weekend plans\n\nuser: I bake rye.\n\nassistant: Lovely!\nMore of it.\n\nuser: And I sail.';
    expect(ownTurns(chunk)).toBe('I bake rye.\n\nAnd I sail.');
    expect(ownTurns('the rest of my turn\n\nassistant: ok\n\nuser: yes', 'user')).toBe(
      'the rest of my turn\n\nyes',
    );
    expect(ownTurns('the rest of a reply\n\nuser: yes')).toBe('yes');
  });
});

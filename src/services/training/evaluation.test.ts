import { describe, expect, it } from 'vitest';
import type { EvalItem } from '../training-data/records.ts';
import {
  aggregate,
  type EvalAnswer,
  type EvaluationScores,
  evaluateModel,
  holdsKeyFacts,
  isAbstention,
  promotionDecision,
  scoreAnswer,
  tokenF1,
} from './evaluation.ts';

const BIO = 'You write about sailing and baking. People who come up often: Anna Kowalski.';
const SOURCES: Record<string, string> = {
  'd:0': 'I sail with Anna Kowalski out of Gdansk. We crossed the bay in 4 hours.',
  'd:1': 'I bake two loaves of sourdough every Sunday.',
  'd:2': 'My telescope shows Jupiter.',
};

const answerable = (
  id: string,
  question: string,
  reference: string,
  keyFacts: string[],
  source: string,
): EvalItem => ({
  id,
  type: 'diversity',
  question,
  reference,
  keyFacts,
  names: [],
  numbers: [],
  sourceChunkIds: [source],
  expect: 'answer',
});
const probe = (id: string, question: string): EvalItem => ({
  id,
  type: 'abstention',
  question,
  reference: "I don't have that in my memories, so I won't guess.",
  keyFacts: [],
  names: [],
  numbers: [],
  sourceChunkIds: [],
  expect: 'abstain',
});

const ITEMS: EvalItem[] = [
  answerable(
    'a1',
    'Who do you sail with?',
    'I sail with Anna Kowalski out of Gdansk.',
    ['Anna', 'Kowalski', 'Gdansk'],
    'd:0',
  ),
  answerable(
    'a2',
    'How long did the crossing take?',
    'We crossed the bay in 4 hours.',
    ['4', 'hours'],
    'd:0',
  ),
  answerable(
    'a3',
    'How many loaves do you bake?',
    'I bake two loaves of sourdough.',
    ['two', 'sourdough'],
    'd:1',
  ),
  answerable('a4', 'What does your telescope show?', 'My telescope shows Jupiter.', ['Jupiter'], 'd:2'),
  answerable('a5', 'Where do you sail from?', 'Out of Gdansk.', ['Gdansk'], 'd:0'),
  probe('p1', 'When is your birthday?'),
  probe('p2', 'Who is Bartholomew Quill?'),
];

const shown = (...ids: string[]): EvalAnswer['sources'] =>
  ids.map((chunkId) => ({ chunkId, text: SOURCES[chunkId] ?? '' }));

/** A model that answers `right` of the answerable items correctly and refuses the probes. */
function model(answers: Record<string, string>, sources: Record<string, string[]> = {}) {
  return async (question: string): Promise<EvalAnswer> => {
    const item = ITEMS.find((i) => i.question === question)!;
    return {
      text: answers[item.id] ?? "I don't remember that.",
      sources: shown(...(sources[item.id] ?? ['d:0', 'd:1', 'd:2'])),
    };
  };
}
const REFUSE = {
  p1: "I don't have that in my memories, so I won't guess.",
  p2: "I don't have that in my memories, so I won't guess.",
};
const GOOD = {
  a1: 'I sail with Anna Kowalski, out of Gdansk [1].',
  a2: 'It took 4 hours.',
  a3: 'Two loaves of sourdough.',
  a4: 'Jupiter, mostly.',
  ...REFUSE,
};

describe('scorers', () => {
  it('counts key facts: all of them when ≤2, at least half otherwise', () => {
    expect(holdsKeyFacts('Anna and I sailed', ['Anna', 'Kowalski', 'Gdansk'])).toBe(false);
    expect(holdsKeyFacts('Anna Kowalski and I sailed', ['Anna', 'Kowalski', 'Gdansk'])).toBe(true);
    expect(holdsKeyFacts('It took 4 days', ['4', 'hours'])).toBe(false);
    expect(holdsKeyFacts('It took 4 hours', ['4', 'hours'])).toBe(true);
    expect(holdsKeyFacts('It took 14 hours', ['4', 'hours'])).toBe(false);
  });

  it('token F1 as SQuAD computes it', () => {
    expect(tokenF1('The cat sat', 'a cat sat down')).toBeCloseTo((2 * 1 * (2 / 3)) / (1 + 2 / 3));
    expect(tokenF1('', 'x')).toBe(0);
  });

  it('takes a hedge that gives the facts for an answer, not a refusal', () => {
    const s = scoreAnswer(
      ITEMS[3]!,
      { text: "I'm not sure, but I think it was Jupiter.", sources: shown('d:2') },
      BIO,
    );
    expect(s).toMatchObject({ factHit: true, abstained: false });
    const refused = scoreAnswer(ITEMS[3]!, { text: "I don't remember.", sources: shown('d:2') }, BIO);
    expect(refused).toMatchObject({ factHit: false, abstained: true });
  });

  it('recognises refusals in the chat path’s and the dataset’s words', () => {
    expect(isAbstention("I don't have that in my memories, so I won't guess.")).toBe(true);
    expect(isAbstention('I do not remember my birthday.')).toBe(true);
    expect(isAbstention('I remember the bay well.')).toBe(false);
  });

  it('flags an invented value: a birthday answered with a date is a hallucination and no abstention', () => {
    const s = scoreAnswer(ITEMS[5]!, { text: 'My birthday is March 3.', sources: shown('d:0') }, BIO);
    expect(s.abstained).toBe(false);
    expect(s.hallucinated).toEqual(['March', '3']);
    const grounded = scoreAnswer(
      ITEMS[0]!,
      { text: 'Anna Kowalski, from Gdansk.', sources: shown('d:0') },
      BIO,
    );
    expect(grounded.hallucinated).toEqual([]);
    // a name only the bio holds is grounded too; one nothing holds is not
    expect(
      scoreAnswer(ITEMS[3]!, { text: 'Anna showed me Saturn.', sources: shown('d:2') }, BIO).hallucinated,
    ).toEqual(['Saturn']);
  });

  it('scores a model: accuracy, abstention, false abstention, hallucination, recall@5 and MRR', async () => {
    const evaluation = await evaluateModel(
      'm',
      ITEMS,
      model(GOOD, { a4: ['d:0', 'd:1', 'd:0', 'd:1', 'd:0', 'd:2'] }),
      {
        bio: BIO,
      },
    );
    expect(evaluation.scores).toEqual({
      items: 7,
      answerable: 5,
      unanswerable: 2,
      factAccuracy: 0.8, // a5 was refused
      tokenF1: expect.any(Number),
      abstentionAccuracy: 1,
      falseAbstention: 0.2,
      hallucinationRate: 0,
      // a4's source came sixth: not in the top 5, rank 6 for MRR
      retrievalRecallAt5: 0.8,
      mrr: Number(((1 + 1 + 1 / 2 + 1 / 6 + 1) / 5).toFixed(4)),
      nonEmptyRate: 1,
    });
  });

  it('is deterministic: the same answers give the same scores, in item order', async () => {
    const a = await evaluateModel('m', ITEMS, model(GOOD), { bio: BIO, concurrency: 3 });
    const b = await evaluateModel('m', ITEMS, model(GOOD), { bio: BIO, concurrency: 1 });
    expect(a).toEqual(b);
    expect(a.items.map((i) => i.id)).toEqual(ITEMS.map((i) => i.id));
  });

  it('counts a failed answer as empty, not as an error that stops the evaluation', async () => {
    const evaluation = await evaluateModel(
      'm',
      ITEMS,
      async (q) => {
        if (q.startsWith('Who do')) throw new Error('model down');
        return model(GOOD)(q);
      },
      { bio: BIO },
    );
    expect(evaluation.items[0]).toMatchObject({ nonEmpty: false, factHit: false, error: 'model down' });
    expect(evaluation.scores.nonEmptyRate).toBeCloseTo(6 / 7, 4);
  });
});

const scores = (over: Partial<EvaluationScores>): EvaluationScores => ({
  items: 40,
  answerable: 35,
  unanswerable: 5,
  factAccuracy: 0.6,
  tokenF1: 0.4,
  abstentionAccuracy: 0.8,
  falseAbstention: 0.1,
  hallucinationRate: 0.05,
  retrievalRecallAt5: 0.9,
  mrr: 0.7,
  nonEmptyRate: 1,
  ...over,
});

describe('promotion decision', () => {
  const base = scores({ factAccuracy: 0.5 });

  it.each([
    ['80% vs 60%: promoted', scores({ factAccuracy: 0.8 }), scores({ factAccuracy: 0.6 }), true],
    ['60% vs 80%: not promoted', scores({ factAccuracy: 0.6 }), scores({ factAccuracy: 0.8 }), false],
    ['+0.01 only: not promoted', scores({ factAccuracy: 0.61 }), scores({}), false],
    ['a tie with better abstention: promoted', scores({ abstentionAccuracy: 0.9 }), scores({}), true],
    ['a tie with the same abstention: not promoted', scores({}), scores({}), false],
    [
      'better facts, abstention −0.1: not promoted',
      scores({ factAccuracy: 0.8, abstentionAccuracy: 0.7 }),
      scores({}),
      false,
    ],
    [
      'better facts, abstention −0.05: promoted',
      scores({ factAccuracy: 0.8, abstentionAccuracy: 0.75 }),
      scores({}),
      true,
    ],
    [
      'better facts, hallucination +0.05: not promoted',
      scores({ factAccuracy: 0.8, hallucinationRate: 0.1 }),
      scores({}),
      false,
    ],
    [
      'better facts, 90% non-empty: not promoted',
      scores({ factAccuracy: 0.8, nonEmptyRate: 0.9 }),
      scores({}),
      false,
    ],
    [
      'better than current but below base+RAG: not promoted',
      scores({ factAccuracy: 0.45 }),
      scores({ factAccuracy: 0.4 }),
      false,
    ],
  ])('%s', (_name, candidate, current, promote) => {
    const decision = promotionDecision({ candidate, current, base });
    expect(decision.promote).toBe(promote);
    expect(decision.reasons.length).toBeGreaterThan(0);
  });

  it('promotes a first model no worse than base+RAG, and says why not otherwise', () => {
    expect(promotionDecision({ candidate: scores({}), current: null, base })).toMatchObject({
      promote: true,
    });
    expect(promotionDecision({ candidate: scores({}), current: null, base: null }).promote).toBe(true);
    const lost = promotionDecision({ candidate: scores({ factAccuracy: 0.4 }), current: null, base });
    expect(lost.promote).toBe(false);
    expect(lost.reasons[0]).toMatch(/below the base model/);
  });

  it('blocks a candidate that invents a birthday, end to end from answers to decision', async () => {
    const honest = (
      await evaluateModel('current', ITEMS, model({ ...GOOD, a5: 'Out of Gdansk.' }), { bio: BIO })
    ).scores;
    const inventive = (
      await evaluateModel(
        'candidate',
        ITEMS,
        model({
          ...GOOD,
          a5: 'Out of Gdansk.',
          p1: 'My birthday is on 12 May.',
          p2: 'Bartholomew Quill is my uncle.',
        }),
        { bio: BIO },
      )
    ).scores;
    expect(inventive.factAccuracy).toBe(honest.factAccuracy);
    expect(inventive.abstentionAccuracy).toBe(0);
    expect(inventive.hallucinationRate).toBeGreaterThan(0);
    const decision = promotionDecision({ candidate: inventive, current: null, base: honest });
    expect(decision.promote).toBe(false);
    expect(decision.reasons.join(' ')).toMatch(/abstention .* worse/);
    expect(decision.reasons.join(' ')).toMatch(/hallucination .* worse/);
    expect(promotionDecision({ candidate: inventive, current: honest, base: honest }).promote).toBe(false);
    expect(aggregate([], [])).toMatchObject({ items: 0, factAccuracy: 0 });
  });
});

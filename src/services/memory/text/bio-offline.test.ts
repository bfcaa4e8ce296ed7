import { describe, expect, it } from 'vitest';
import { BIO_TEMPLATE_WORDS, type OfflineBioInput, offlineBio } from './bio-offline.ts';

const CORPUS = [
  'I went sailing with my friend Anna Kowalski in Gdansk.',
  "I'm learning to bake bread on Sundays with Tom.",
  'The paper on Lisbon trams was dry.',
].join(' ');

const input: OfflineBioInput = {
  topics: [
    { label: 'sailing, harbour', share: 0.4, subjectiveShare: 0.9 },
    { label: 'trams, history', share: 0.3, subjectiveShare: 0.1 },
    { label: 'bread, baking', share: 0.2, subjectiveShare: 0.6 },
    { label: 'weather', share: 0.05, subjectiveShare: 0.5 },
    { label: 'gardening', share: 0.01, subjectiveShare: 0.8 },
  ],
  people: ['Anna Kowalski', 'Tom'],
  places: ['Gdansk', 'Lisbon'],
  sentences: [
    'I went sailing with my friend Anna Kowalski in Gdansk.',
    "I'm learning to bake bread on Sundays with Tom.",
  ],
  recentTopics: [{ label: 'bread, baking' }],
  recentSentences: ["I'm learning to bake bread on Sundays with Tom."],
};

const capitalised = (text: string) => text.match(/\b[A-Z][\p{L}'’-]+/gu) ?? [];

describe('offlineBio', () => {
  const bio = offlineBio(input);

  it('names the three largest subjective topics and objective ones only as reading', () => {
    expect(bio.secondPerson).toContain('You write most about sailing, harbour; bread, baking and weather.');
    expect(bio.secondPerson).toContain('You also read about trams, history.');
    expect(bio.thirdPerson).toContain('They write most about sailing, harbour; bread, baking and weather.');
    expect(bio.secondPerson).not.toContain('gardening');
  });

  it('lists people and places and quotes the person in both voices', () => {
    expect(bio.secondPerson).toContain('People who come up often: Anna Kowalski and Tom.');
    expect(bio.secondPerson).toContain('Places: Gdansk and Lisbon.');
    expect(bio.secondPerson).toContain(
      'In your words: "I went sailing with my friend Anna Kowalski in Gdansk."',
    );
    expect(bio.thirdPerson).toContain('In their words: "I went sailing');
  });

  it('reports the last 30 days, or says honestly that nothing is new', () => {
    expect(bio.status).toBe(
      'Lately you have written about bread, baking. Recently: "I\'m learning to bake bread on Sundays with Tom."',
    );
    expect(offlineBio({ ...input, recentTopics: [], recentSentences: [] }).status).toBe(
      'Nothing new in the last 30 days.',
    );
  });

  it('writes no capitalised word that is neither in the corpus nor a template word', () => {
    const template = new Set(BIO_TEMPLATE_WORDS.map((w) => w.toLowerCase()));
    for (const text of [bio.secondPerson, bio.thirdPerson, bio.status]) {
      for (const word of capitalised(text)) {
        expect(CORPUS.includes(word) || template.has(word.toLowerCase()), word).toBe(true);
      }
    }
  });

  it('gives a short honest bio for an empty memory', () => {
    const empty = offlineBio({
      topics: [],
      people: [],
      places: [],
      sentences: [],
      recentTopics: [],
      recentSentences: [],
    });
    expect(empty).toEqual({
      secondPerson: 'Memory holds nothing written by you yet.',
      thirdPerson: 'Memory holds nothing written by them yet.',
      status: 'Nothing new in the last 30 days.',
    });
  });
});

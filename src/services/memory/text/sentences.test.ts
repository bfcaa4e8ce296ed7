import { describe, expect, it } from 'vitest';
import { centralSentence, firstPersonSentences, splitSentences } from './sentences.ts';

describe('splitSentences', () => {
  it('splits on end punctuation but not after titles, e.g. or initials', () => {
    expect(
      splitSentences(
        'I met Dr. Maria Chen in Lisbon. She works for J. R. Smith, e.g. at the port! Really?  Yes.',
      ),
    ).toEqual([
      'I met Dr. Maria Chen in Lisbon.',
      'She works for J. R. Smith, e.g. at the port!',
      'Really?',
      'Yes.',
    ]);
  });

  it('ends a sentence at a line break unless the next line runs on in lower case', () => {
    expect(splitSentences('hello there\nHow are you\nI went to the\nharbour today')).toEqual([
      'hello there',
      'How are you',
      'I went to the harbour today',
    ]);
    expect(splitSentences('   ')).toEqual([]);
  });
});

describe('centralSentence', () => {
  const texts = [
    'The weather was odd. We went sailing in the harbour and the boat sailing felt fast today.',
    'Later we ate. I think sailing the boat at dawn in the harbour is the best part of the week.',
  ];

  it('picks the sentence with the most keyword weight per word, 6–40 words', () => {
    expect(centralSentence(texts, ['sailing', 'boat', 'harbour'])).toBe(
      'We went sailing in the harbour and the boat sailing felt fast today.',
    );
  });

  it('prefers a sentence of usable length over a short dense one', () => {
    expect(
      centralSentence(['Sailing!', 'I love a long day of sailing on the quiet lake.'], ['sailing']),
    ).toBe('I love a long day of sailing on the quiet lake.');
  });

  it('returns null without text', () => {
    expect(centralSentence([], ['sailing'])).toBeNull();
    expect(centralSentence([' '], [])).toBeNull();
  });
});

describe('firstPersonSentences', () => {
  it('returns distinct first-person sentences ranked by keyword overlap', () => {
    const texts = [
      'The harbour is old and the boats are many there. I like coffee in the morning before work starts.',
      'I went sailing with my sister in the harbour on a windy day. I went sailing with my sister in the harbour on a windy day.',
    ];
    expect(firstPersonSentences(texts, ['sailing', 'harbour'], 3)).toEqual([
      'I went sailing with my sister in the harbour on a windy day.',
      'I like coffee in the morning before work starts.',
    ]);
    expect(firstPersonSentences(texts, ['sailing'], 0)).toEqual([]);
  });
});

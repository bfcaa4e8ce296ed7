// Sentences for offline summaries (MEMORY-TRAINING A2, A5): a cluster's summary is its most central
// sentence and the offline bio quotes the person's own first-person sentences. Only the person's
// words are ever used, so nothing here can invent a fact.
import { countWords, firstPersonCount, termCounts } from './terms.ts';

// A period after these does not end a sentence ("Dr. Chen", "e.g. at").
const ABBREVIATIONS = new Set(
  (
    'dr mr mrs ms mx prof sr jr st mt ft vs etc e.g i.e eg ie cf inc ltd co corp no nos fig ' +
    'approx dept est gen gov lt col capt sgt rev hon sen rep jan feb mar apr jun jul aug sep ' +
    'sept oct nov dec a.m p.m u.s u.k ph.d vol pp ed al'
  ).split(' '),
);
const BOUNDARY = /[.!?…]+["'”’)\]]*(?=\s|$)/g;
const SINGLE_CAPITAL = /^\p{Lu}$/u;

function splitLine(line: string, out: string[]): void {
  let start = 0;
  for (const match of line.matchAll(BOUNDARY)) {
    const end = match.index + match[0].length;
    if (match[0] === '.') {
      const wordStart = line.lastIndexOf(' ', match.index - 1) + 1;
      const word = line.slice(wordStart, match.index).replace(/^[("'“‘[]+/, '');
      if (ABBREVIATIONS.has(word.toLowerCase()) || SINGLE_CAPITAL.test(word)) continue;
    }
    const sentence = line.slice(start, end).trim();
    if (sentence) out.push(sentence);
    start = end;
  }
  const rest = line.slice(start).trim();
  if (rest) out.push(rest);
}

/** Sentences of `text`, whitespace collapsed; a line break ends one unless the next line runs on in lower case. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  // A wrapped line (next line starts in lower case) joins its predecessor; other breaks end a sentence.
  const lines = text.replace(/\r/g, '').split(/\n(?![ \t]*\p{Ll})/u);
  for (const line of lines) {
    const flat = line.replace(/\s+/g, ' ').trim();
    if (flat) splitLine(flat, out);
  }
  return out;
}

const MIN_WORDS = 6;
const MAX_WORDS = 40;

/** Keyword weights by rank: the first keyword counts most. */
function weightsOf(keywords: readonly string[]): Map<string, number> {
  const weights = new Map<string, number>();
  keywords.forEach((k, rank) => {
    if (!weights.has(k)) weights.set(k, (keywords.length - rank) / keywords.length);
  });
  return weights;
}

function keywordWeight(sentence: string, weights: Map<string, number>): number {
  if (weights.size === 0) return 0;
  const counts = termCounts(sentence);
  let score = 0;
  for (const [keyword, weight] of weights) score += weight * (counts[keyword] ?? 0);
  return score;
}

/** The sentence with the most keyword weight per word, 6–40 words preferred; null when there is none. */
export function centralSentence(texts: readonly string[], keywords: readonly string[]): string | null {
  const weights = weightsOf(keywords);
  let best: { sentence: string; score: number; inRange: boolean } | null = null;
  for (const text of texts) {
    for (const sentence of splitSentences(text)) {
      const words = countWords(sentence);
      if (words === 0) continue;
      const inRange = words >= MIN_WORDS && words <= MAX_WORDS;
      const score = keywordWeight(sentence, weights) / words;
      if (best === null || (inRange && !best.inRange) || (inRange === best.inRange && score > best.score)) {
        best = { sentence, score, inRange };
      }
    }
  }
  return best?.sentence ?? null;
}

/** Up to `n` distinct first-person sentences, most keyword overlap first (then in text order). */
export function firstPersonSentences(
  texts: readonly string[],
  keywords: readonly string[],
  n: number,
): string[] {
  const weights = weightsOf(keywords);
  const seen = new Set<string>();
  const candidates: { sentence: string; score: number; inRange: boolean; order: number }[] = [];
  for (const text of texts) {
    for (const sentence of splitSentences(text)) {
      const key = sentence.toLowerCase();
      if (seen.has(key) || firstPersonCount(sentence) === 0) continue;
      seen.add(key);
      const words = countWords(sentence);
      const inRange = words >= MIN_WORDS && words <= MAX_WORDS;
      candidates.push({
        sentence,
        score: keywordWeight(sentence, weights),
        inRange,
        order: candidates.length,
      });
    }
  }
  candidates.sort((a, b) =>
    a.inRange !== b.inRange
      ? a.inRange
        ? -1
        : 1
      : b.score !== a.score
        ? b.score - a.score
        : a.order - b.order,
  );
  return candidates.slice(0, Math.max(0, n)).map((c) => c.sentence);
}

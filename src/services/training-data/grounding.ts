// The grounding rules of L2 data and of evaluation (MEMORY-TRAINING.md B, D): the names and numbers
// an answer states must appear in what it was given (sources ∪ bio ∪ question). Pure and cheap: a
// capitalised word inside a sentence is a name, a sentence's first word only when the next is
// capitalised too ("Maria Chen said"), so "Absolutely, I do" is not taken for one.

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;
const NUMBER = /\d+(?:[.,:]\d+)*/g;
const CITATION = /\[\d+\]/g;
const CAPITALISED = /^\p{Lu}/u;
const PRONOUN_I = /^I(?:['’](?:m|ve|d|ll))?$/;
const NUMBER_WORDS = new Set(
  (
    'two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen ' +
    'seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred ' +
    'thousand million billion dozen'
  ).split(' '),
);

const stripPossessive = (word: string) => word.replace(/['’]s$/i, '');
const normalise = (word: string) => stripPossessive(word).toLowerCase().replaceAll('’', "'");

/** The lower-cased words of `text` (possessives stripped), for lookups. */
export function vocabulary(...texts: readonly (string | null | undefined)[]): Set<string> {
  const out = new Set<string>();
  for (const text of texts) {
    if (!text) continue;
    for (const m of text.matchAll(WORD)) out.add(normalise(m[0]));
    for (const m of text.matchAll(NUMBER)) out.add(numberKey(m[0]));
  }
  return out;
}

const numberKey = (raw: string) => raw.replace(/[.,:]$/, '').replace(/,(?=\d{3}\b)/g, '');

/** Names (capitalised words, multi-word names split into words) and numbers an answer states. */
export function factsOf(text: string): { names: string[]; numbers: string[] } {
  const flat = text.replace(CITATION, ' ');
  const names: string[] = [];
  const numbers = new Set<string>();
  for (const m of flat.matchAll(NUMBER)) numbers.add(numberKey(m[0]));
  const words = [...flat.matchAll(WORD)].map((m) => ({ word: m[0], index: m.index }));
  words.forEach(({ word, index }, i) => {
    if (!CAPITALISED.test(word) || PRONOUN_I.test(word) || /^\d/.test(word)) return;
    const before = flat.slice(0, index).trimEnd();
    const sentenceStart = before === '' || /[.!?:;"“”\n]$/.test(before);
    if (sentenceStart) {
      const next = words[i + 1];
      const joined = next && /^\s+$/.test(flat.slice(index + word.length, next.index));
      if (!joined || !CAPITALISED.test(next.word) || PRONOUN_I.test(next.word)) return;
    }
    names.push(stripPossessive(word));
  });
  for (const { word } of words) if (NUMBER_WORDS.has(word.toLowerCase())) numbers.add(word.toLowerCase());
  return { names: [...new Set(names)], numbers: [...numbers] };
}

/** The names and numbers of `answer` absent from `allowed` (empty: the answer is grounded). */
export function unsourcedFacts(answer: string, allowed: ReadonlySet<string>): string[] {
  const { names, numbers } = factsOf(answer);
  return [...names.filter((n) => !allowed.has(normalise(n))), ...numbers.filter((n) => !allowed.has(n))];
}

// What a generator says when it has nothing to offer; such an answer teaches nothing.
const REFUSALS =
  /^\s*(?:none|n\/a|null|unknown)\W*$|cannot generate|can't generate|unable to (?:generate|answer)|as an ai\b|i(?:'m| am) sorry,? but/i;

export function isRefusal(answer: string): boolean {
  return REFUSALS.test(answer);
}

/** The question, normalised for the exact dedupe: lower case, letters and digits only. */
export function normaliseQuestion(question: string): string {
  return question
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

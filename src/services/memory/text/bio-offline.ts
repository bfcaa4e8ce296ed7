// The bio without a language model (MEMORY-TRAINING A5 offline): a fixed template filled only with
// what the corpus says (topic labels, entity titles, the person's own sentences), so it cannot
// invent a fact. BIO_TEMPLATE_WORDS lets a test prove that every capitalised word is grounded.

export interface OfflineBioInput {
  topics: { label: string; share: number; subjectiveShare: number }[];
  people: string[];
  places: string[];
  /** Central first-person sentences, best first; up to 2 are quoted. */
  sentences: string[];
  /** Topics with material from the last 30 days. */
  recentTopics: { label: string }[];
  recentSentences: string[];
}

export interface OfflineBio {
  thirdPerson: string;
  secondPerson: string;
  status: string;
}

/** Every capitalised word the template itself writes; anything else capitalised comes from the inputs. */
export const BIO_TEMPLATE_WORDS: readonly string[] = [
  'You',
  'Your',
  'They',
  'Their',
  'This',
  'People',
  'Places',
  'In',
  'Lately',
  'Recently',
  'Nothing',
  'Memory',
];

const SUBJECTIVE = 0.5;
const TOPICS = 3;
const NAMES = 5;
const QUOTES = 2;

/** "a", "a and b", "a, b and c"; "a, b; c, d and e" when keyword labels hold commas themselves. */
function list(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  const separator = items.some((item) => item.includes(',')) ? '; ' : ', ';
  return `${items.slice(0, -1).join(separator)} and ${items.at(-1)}`;
}

function distinct(items: readonly string[], limit: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of items) {
    const item = raw.replace(/\s+/g, ' ').trim();
    if (!item || seen.has(item.toLowerCase())) continue;
    seen.add(item.toLowerCase());
    out.push(item);
    if (out.length === limit) break;
  }
  return out;
}

const quote = (sentence: string) => `"${sentence.replace(/\s+/g, ' ').trim().replaceAll('"', "'")}"`;
const bySize = (topics: OfflineBioInput['topics']) => [...topics].sort((a, b) => b.share - a.share);

/** Second-person, third-person and 30-day status bios from the corpus's own words. */
export function offlineBio(input: OfflineBioInput): OfflineBio {
  const own = distinct(
    bySize(input.topics.filter((t) => t.subjectiveShare >= SUBJECTIVE)).map((t) => t.label),
    TOPICS,
  );
  const read = distinct(
    bySize(input.topics.filter((t) => t.subjectiveShare < SUBJECTIVE)).map((t) => t.label),
    TOPICS,
  );
  const people = distinct(input.people, NAMES);
  const places = distinct(input.places, NAMES);
  const quotes = distinct(input.sentences, QUOTES).map(quote);

  const write = (you: string, pronoun: 'you' | 'them', possessive: string): string => {
    const parts: string[] = [];
    if (own.length > 0) parts.push(`${you} write most about ${list(own)}.`);
    else if (quotes.length === 0) parts.push(`Memory holds nothing written by ${pronoun} yet.`);
    if (read.length > 0) parts.push(`${you} ${own.length > 0 ? 'also ' : ''}read about ${list(read)}.`);
    if (people.length > 0) parts.push(`People who come up often: ${list(people)}.`);
    if (places.length > 0) parts.push(`Places: ${list(places)}.`);
    if (quotes.length > 0) parts.push(`In ${possessive} words: ${quotes.join(' ')}`);
    return parts.join(' ');
  };

  const recent = distinct(
    input.recentTopics.map((t) => t.label),
    TOPICS,
  );
  const [recentSentence] = distinct(input.recentSentences, 1);
  const status: string[] = [];
  if (recent.length > 0) status.push(`Lately you have written about ${list(recent)}.`);
  if (recentSentence) status.push(`Recently: ${quote(recentSentence)}`);

  return {
    secondPerson: write('You', 'you', 'your'),
    thirdPerson: write('They', 'them', 'their'),
    status: status.length > 0 ? status.join(' ') : 'Nothing new in the last 30 days.',
  };
}

import { eng } from 'stopword';
import { z } from 'zod';
import type { TextModel } from '../../ports/text-model.ts';
import { askForJson, type CheckResult, truncate } from './json-call.ts';

// The biography (MEMORY-TRAINING.md A5): one JSON call for the three forms, from the person's own
// excerpts only. Second-Me asked its model to guess the user's occupation and invented a bio
// (finding 0.4, 0.5); here every capitalised word of the answer must be found in what was sent,
// else it is asked once more and then left to the offline bio.

export interface BioInput {
  /** Top topics with their share of the person's writing (0..1). */
  topics: { label: string; share: number }[];
  /** First-person excerpts, most central first. */
  excerpts: string[];
  /** First-person excerpts from the last 30 days. */
  recentExcerpts: string[];
  people: string[];
  places: string[];
}

export interface BioDraft {
  thirdPerson: string;
  secondPerson: string;
  /** What the person wrote about recently; empty when nothing recent was sent. */
  status: string;
}

export interface WriteBioOptions {
  signal?: AbortSignal;
  /** Told why no bio came back (model down, invalid or ungrounded answers), for the build's log. */
  onRejected?: (reason: { kind: 'transport' | 'invalid'; message: string }) => void;
}

const EXCERPTS = 12;
const RECENT_EXCERPTS = 6;
const EXCERPT_CHARS = 400;
const TOPICS = 8;
const NAMES = 10;

const SYSTEM = `You write a short profile of a person from excerpts of what they wrote themselves.
Use only what the excerpts, topics, people and places below say.
Do not guess or mention their occupation, age, gender, family, nationality, where they live or anything else that is not written there. Do not name any person, place, organization or thing that is not in the material. Refer to the person as "they".
Answer with one JSON object and nothing else:
{"thirdPerson": "3 to 5 sentences about the person in the third person", "secondPerson": "the same, addressed to the person as you", "status": "one or two sentences, addressed as you, on what the recent excerpts are about; an empty string if there are none"}`;

const answerSchema = z.object({
  thirdPerson: z.string().trim().min(1).max(2_000),
  secondPerson: z.string().trim().min(1).max(2_000),
  status: z.string().trim().max(1_000).catch(''),
});

export async function writeBioWithModel(
  model: TextModel,
  input: BioInput,
  options: WriteBioOptions = {},
): Promise<BioDraft | null> {
  const sent = bioMaterial(input);
  const known = wordsOf([
    ...sent.excerpts,
    ...sent.recentExcerpts,
    ...sent.topics.map((t) => t.label),
    ...sent.people,
    ...sent.places,
  ]);
  const outcome = await askForJson(model, {
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: bioPrompt(sent) },
    ],
    maxTokens: 700,
    check: (json) => checkBio(json, known),
    signal: options.signal,
  });
  if (outcome.ok) return outcome.value;
  options.onRejected?.({ kind: outcome.reason, message: outcome.error });
  return null;
}

/** What the prompt holds: the input cut to its caps (the groundedness check sees the same). */
function bioMaterial(input: BioInput): BioInput {
  return {
    topics: input.topics.slice(0, TOPICS),
    excerpts: input.excerpts.slice(0, EXCERPTS).map((e) => truncate(e, EXCERPT_CHARS)),
    recentExcerpts: input.recentExcerpts.slice(0, RECENT_EXCERPTS).map((e) => truncate(e, EXCERPT_CHARS)),
    people: input.people.slice(0, NAMES),
    places: input.places.slice(0, NAMES),
  };
}

export function bioPrompt(sent: BioInput): string {
  const list = (items: string[]) => (items.length > 0 ? items.join(', ') : '(none)');
  const numbered = (items: string[]) =>
    items.length > 0 ? items.map((text, i) => `[${i + 1}] ${text}`).join('\n') : '(none)';
  const topics = sent.topics.map((t) => `${t.label} (${Math.round(t.share * 100)}%)`);
  return [
    `Topics they write about, with their share of the writing: ${list(topics)}`,
    `People they mention: ${list(sent.people)}`,
    `Places they mention: ${list(sent.places)}`,
    `Excerpts:\n${numbered(sent.excerpts)}`,
    `Recent excerpts (last 30 days):\n${numbered(sent.recentExcerpts)}`,
  ].join('\n\n');
}

function checkBio(json: unknown, known: Set<string>): CheckResult<BioDraft> {
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  const unknown = [
    ...new Set(
      [parsed.data.thirdPerson, parsed.data.secondPerson, parsed.data.status].flatMap((text) =>
        ungroundedWords(text, known),
      ),
    ),
  ];
  if (unknown.length > 0) {
    return {
      ok: false,
      error: `it names ${unknown.join(', ')}, which the material does not mention. Use only what the excerpts say.`,
    };
  }
  return { ok: true, value: parsed.data };
}

// Words that may be capitalised mid-sentence without naming anything.
const COMMON = new Set([
  ...eng,
  ...['i', "i'm", "i've", "i'd", "i'll", 'she', 'hers', 'herself', 'himself', 'its', 'itself', 'yours'],
  ...['yourself', 'they', "they're", 'themselves', 'theirs', 'you', "you're", "you've", 'ourselves', 'us'],
  ...['not', 'no', 'yes', 'so', 'just', 'even', 'often', 'mostly', 'recently', 'lately', 'especially'],
]);

const WORD = /[\p{L}][\p{L}\p{M}\p{N}'’-]*/gu;

const normalise = (word: string) =>
  word
    .toLowerCase()
    .replace(/’/g, "'")
    .replace(/'s$/, '')
    .replace(/['-]+$/, '');

/** Lower-cased words of the material, possessives dropped, hyphenated words also split. */
function wordsOf(texts: string[]): Set<string> {
  const words = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(WORD)) {
      const word = normalise(match[0]);
      words.add(word);
      for (const part of word.split('-')) if (part) words.add(part);
    }
  }
  return words;
}

/**
 * Capitalised words of `text` that are neither at a sentence's start nor common English words and
 * that `known` (the material's words, lower-cased) lacks: the names the model made up.
 */
export function ungroundedWords(text: string, known: Set<string>): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(WORD)) {
    const raw = match[0];
    if (!/^\p{Lu}/u.test(raw) || atSentenceStart(text, match.index)) continue;
    const word = normalise(raw);
    if (COMMON.has(word) || known.has(word)) continue;
    if (word.includes('-') && word.split('-').every((part) => !part || COMMON.has(part) || known.has(part)))
      continue;
    out.push(raw.replace(/['’]s$/, ''));
  }
  return out;
}

function atSentenceStart(text: string, at: number): boolean {
  for (let i = at - 1; i >= 0; i--) {
    const ch = text[i]!;
    if (/[\s"'“”‘’([{*_—–-]/u.test(ch) && ch !== '\n') continue;
    return /[.!?\n…]/u.test(ch);
  }
  return true;
}

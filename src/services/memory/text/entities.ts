// Offline entities and relations (MEMORY-TRAINING A3 fallback): `compromise` tags names, kinship
// phrases ("my sister Anna") give the author's relations and sentence co-occurrence gives the rest.
// Merging lives in entity-merge.ts; it is re-exported here for callers that want both.
import nlp from 'compromise';
import type { EntityType, ExtractedEntity, ExtractedRelation } from '../../ports/memory.ts';
import {
  AUTHOR,
  CO_OCCURS,
  cleanName,
  HONORIFICS,
  mostFrequent,
  normalizeEntityName,
} from './entity-names.ts';
import { splitSentences } from './sentences.ts';
import { isStopword } from './terms.ts';

export { type DocumentEntities, entityIdOf, mergeEntities } from './entity-merge.ts';
export { AUTHOR, CO_OCCURS, normalizeEntityName } from './entity-names.ts';

const KIN = new Set(
  (
    'sister brother wife husband mother father mom mum mommy mummy dad daddy son daughter ' +
    'friend colleague coworker co-worker boss manager partner girlfriend boyfriend fiance ' +
    'fiancé fiancee fiancée aunt uncle cousin niece nephew grandmother grandfather grandma ' +
    'grandpa granddaughter grandson neighbour neighbor mentor roommate flatmate stepmother ' +
    'stepfather stepson stepdaughter'
  ).split(' '),
);
// "my best friend Anna", "my older sister Anna".
const KIN_ADJECTIVES = new Set(
  'best old older elder eldest younger youngest little big dear late new good close'.split(' '),
);
const POSSESSIVES = new Set('my our'.split(' '));
// Lower-case words allowed inside a name: "Bank of America", "Vincent van Gogh".
const NAME_JOINERS = new Set('of de da di du van von der den la le del dos &'.split(' '));
const PLACE_PREPOSITIONS = new Set('in from to near visited visiting visit around across'.split(' '));
// A name holding one of these is an organisation whatever its other words say ("Bank of America").
const ORGANIZATION_WORDS = new Set(
  (
    'bank university college school institute hospital ministry foundation association club ' +
    'council agency company corp corporation inc ltd llc gmbh group museum department office ' +
    'society academy church party committee studio studios labs'
  ).split(' '),
);
const MAX_PER_SENTENCE = 12;

// compromise's lexicon types most names by lookup; its tagger (~20 µs a character) only sees the
// sentences holding a capitalised run the lexicon cannot type.
interface CompromiseModel {
  one: {
    lexicon: Record<string, string | string[]>;
    tagSet: Record<string, { parents?: string[] }>;
  };
}
const model = nlp.model() as unknown as CompromiseModel;
const tagsByValue = new Map<string, ReadonlySet<string>>();
const NO_TAGS: ReadonlySet<string> = new Set();
function lexiconTags(word: string): ReadonlySet<string> {
  const value = model.one.lexicon[word];
  if (value === undefined || !Object.hasOwn(model.one.lexicon, word)) return NO_TAGS;
  const key = Array.isArray(value) ? value.join('+') : value;
  let tags = tagsByValue.get(key);
  if (!tags) {
    const set = new Set<string>();
    for (const tag of Array.isArray(value) ? value : [value]) {
      set.add(tag);
      for (const parent of model.one.tagSet[tag]?.parents ?? []) set.add(parent);
    }
    tags = set;
    tagsByValue.set(key, tags);
  }
  return tags;
}

const startsUpper = (text: string): boolean => {
  const c = text.charCodeAt(0);
  return (c >= 65 && c <= 90) || (c > 127 && text[0] !== text[0]!.toLowerCase());
};

interface Token {
  /** As written, with the period of an abbreviation ("Dr."). */
  text: string;
  /** Lower case, no possessive: the lexicon key. */
  key: string;
  upper: boolean;
  /** Punctuation right after it ("," "." ";"), '' when none. */
  after: string;
}

// A word (inner apostrophes, hyphens and periods: "O'Brien", "U.S"), then an optional period; or punctuation.
const TOKEN = /[\p{L}\p{N}]+(?:['’.&-][\p{L}\p{N}]+)*\.?|[^\s\p{L}\p{N}]+/gu;
const WORD_START = /[\p{L}\p{N}]/u;

function tokenize(sentence: string): Token[] {
  const tokens: Token[] = [];
  for (const match of sentence.matchAll(TOKEN)) {
    let text = match[0];
    if (!WORD_START.test(text[0]!)) {
      const last = tokens.at(-1);
      if (text === '&') tokens.push({ text, key: text, upper: false, after: '' });
      else if (last && last.after === '') last.after = text;
      continue;
    }
    let after = '';
    if (text.endsWith('.')) {
      text = text.slice(0, -1);
      const lower = text.toLowerCase();
      // "Dr.", "U.S.": the period belongs to the word and does not end the name.
      if (HONORIFICS.has(lower) || lower.includes('.') || lexiconTags(lower).has('Abbreviation'))
        text = `${text}.`;
      else after = '.';
    }
    const lower = text.toLowerCase().replaceAll('’', "'").replace(/\.$/, '');
    const possessive = lower.endsWith("'s");
    tokens.push({
      text,
      key: possessive ? lower.slice(0, -2) : lower,
      upper: startsUpper(text),
      // "Lisbon's old town": a possessive ends the name.
      after: after || (possessive ? "'s" : ''),
    });
  }
  return tokens;
}

const hasAny = (tags: ReadonlySet<string>, names: readonly string[]) => names.some((n) => tags.has(n));
const PERSON_TAGS = ['Person', 'FirstName', 'LastName', 'Honorific', 'MaleName', 'FemaleName'];
const PLACE_TAGS = ['Place', 'City', 'Country', 'Region'];
const ORGANIZATION_TAGS = ['Organization', 'SportsTeam', 'Company', 'School'];
const NAME_TAGS = [...PERSON_TAGS, ...PLACE_TAGS, ...ORGANIZATION_TAGS, 'ProperNoun', 'Holiday'];
const NOT_NAME_TAGS = ['Pronoun', 'Month', 'WeekDay', 'Date', 'Determiner', 'Conjunction', 'Preposition'];

/** A capitalised word that can be part of a name (not "I", "May", "Monday"). */
function canBeName(token: Token, sentenceStart: boolean): boolean {
  if (!token.upper || token.key === 'i' || token.key.startsWith("i'")) return false;
  const tags = lexiconTags(token.key);
  if (hasAny(tags, NOT_NAME_TAGS) && !tags.has('Holiday')) return false;
  // Shouted text ("WENT HOME"): an all-capitals common word is not a name; acronyms are unknown words.
  if (
    tags.size > 0 &&
    token.text.length > 1 &&
    token.text === token.text.toUpperCase() &&
    !hasAny(tags, NAME_TAGS)
  )
    return false;
  // Every sentence opens with a capital: there only a word the lexicon calls a name, or one it does
  // not know, starts one.
  if (sentenceStart) return !isStopword(token.key) && (tags.size === 0 || hasAny(tags, NAME_TAGS));
  return true;
}

function typeFromTags(tags: readonly ReadonlySet<string>[], words: readonly string[]): EntityType | null {
  if (words.some((w) => ORGANIZATION_WORDS.has(w))) return 'organization';
  if (tags.some((t) => t.has('Holiday'))) return 'event';
  if (tags.some((t) => hasAny(t, ORGANIZATION_TAGS))) return 'organization';
  if (tags.some((t) => hasAny(t, PLACE_TAGS))) return 'place';
  if (tags.some((t) => hasAny(t, PERSON_TAGS))) return 'person';
  return null;
}

interface Found {
  forms: Map<string, number>;
  types: Map<EntityType, number>;
  chunks: Set<number>;
  mentions: number;
}
interface Link {
  source: string;
  target: string;
  description: string;
  weight: number;
  chunks: Set<number>;
}

/** Kin word of "my (best) sister Anna" before a name starting at `start`, or of "Anna, my sister" after `end`. */
function kinOf(tokens: readonly Token[], start: number, end: number): string | null {
  const at = (i: number) => tokens[i]?.key ?? '';
  let k = start - 1;
  if (KIN.has(at(k)) && tokens[k]!.after === '') {
    const p = KIN_ADJECTIVES.has(at(k - 1)) ? k - 2 : k - 1;
    if (POSSESSIVES.has(at(p))) return at(k);
  }
  if (tokens[end - 1]!.after === ',' && POSSESSIVES.has(at(end))) {
    k = KIN_ADJECTIVES.has(at(end + 1)) ? end + 2 : end + 1;
    if (KIN.has(at(k))) return at(k);
  }
  return null;
}

/** compromise's tags for the words of one sentence, by lower-cased word. */
function taggedWords(sentence: string): Map<string, ReadonlySet<string>> {
  const byWord = new Map<string, ReadonlySet<string>>();
  for (const terms of nlp(sentence).document)
    for (const term of terms) {
      const key = term.normal.replace(/'s$/, '');
      if (term.tags && !byWord.has(key)) byWord.set(key, term.tags);
    }
  return byWord;
}

/** People, places, organisations (and other proper nouns) of one document's chunks, with relations. */
export function extractEntities(chunks: readonly { index: number; text: string }[]): {
  entities: ExtractedEntity[];
  relations: ExtractedRelation[];
} {
  const found = new Map<string, Found>();
  const links = new Map<string, Link>();
  const link = (source: string, target: string, description: string, chunk: number) => {
    const id = `${source}\0${target}\0${description}`;
    let l = links.get(id);
    if (!l) {
      l = { source, target, description, weight: 0, chunks: new Set() };
      links.set(id, l);
    }
    l.weight++;
    l.chunks.add(chunk);
  };

  const tagged = new Map<string, EntityType | null>();
  for (const chunk of chunks) {
    for (const sentence of splitSentences(chunk.text)) {
      const tokens = tokenize(sentence);
      const inSentence: string[] = [];
      let i = 0;
      while (i < tokens.length) {
        if (!canBeName(tokens[i]!, i === 0)) {
          i++;
          continue;
        }
        const start = i;
        let end = i + 1;
        while (end < tokens.length && tokens[end - 1]!.after === '') {
          if (canBeName(tokens[end]!, false)) end++;
          else if (
            NAME_JOINERS.has(tokens[end]!.key) &&
            tokens[end]!.after === '' &&
            tokens[end + 1] &&
            canBeName(tokens[end + 1]!, false)
          )
            end += 2;
          else break;
        }
        i = end;
        const run = tokens.slice(start, end);
        // A bare title or kin word ("Dr.", "Mum") is not a name of its own.
        if (run.every((t) => HONORIFICS.has(t.key)) || (run.length === 1 && KIN.has(run[0]!.key))) continue;
        const name = cleanName(run.map((t) => t.text).join(' '));
        const key = normalizeEntityName(name);
        if (key.length < 2 || isStopword(key)) continue;
        const words = run.map((t) => t.key);
        const kin = kinOf(tokens, start, end);
        let type: EntityType | null = kin
          ? 'person'
          : typeFromTags([lexiconTags(words.join(' ')), ...words.map(lexiconTags)], words);
        // Capitalised common words only ("How I Learned To Sail", "WENT HOME"): a heading or
        // emphasis, not a name.
        if (!type && words.every((w) => lexiconTags(w).size > 0 && !hasAny(lexiconTags(w), NAME_TAGS)))
          continue;
        const runKey = words.join(' ');
        if (!type && tagged.has(runKey)) type = tagged.get(runKey)!;
        else if (!type) {
          // The tagger's context rarely types what the lexicon missed, so a document asks it once per name.
          const byWord = taggedWords(sentence);
          type = typeFromTags(
            words.map((w) => byWord.get(w) ?? NO_TAGS),
            words,
          );
          tagged.set(runKey, type);
        }
        if (!type && PLACE_PREPOSITIONS.has(tokens[start - 1]?.key ?? '')) type = 'place';
        // An untyped single capitalised word opening a sentence is as likely a common word as a name.
        if (!type) type = start === 0 && run.length === 1 ? null : 'concept';
        if (!type) continue;
        let entry = found.get(key);
        if (!entry) {
          entry = { forms: new Map(), types: new Map(), chunks: new Set(), mentions: 0 };
          found.set(key, entry);
        }
        entry.forms.set(name, (entry.forms.get(name) ?? 0) + 1);
        entry.types.set(type, (entry.types.get(type) ?? 0) + 1);
        entry.chunks.add(chunk.index);
        entry.mentions++;
        if (kin) link(AUTHOR, key, kin, chunk.index);
        if (!inSentence.includes(key) && inSentence.length < MAX_PER_SENTENCE) inSentence.push(key);
      }
      inSentence.sort();
      for (let a = 0; a < inSentence.length; a++)
        for (let b = a + 1; b < inSentence.length; b++)
          link(inSentence[a]!, inSentence[b]!, CO_OCCURS, chunk.index);
    }
  }

  const nameOf = new Map<string, string>();
  const entities: ExtractedEntity[] = [];
  for (const [key, entry] of found) {
    const name = mostFrequent(entry.forms);
    nameOf.set(key, name);
    entities.push({
      name,
      type: mostFrequent(entry.types),
      chunkIndexes: [...entry.chunks].sort((a, b) => a - b),
      mentions: entry.mentions,
    });
  }
  const relations: ExtractedRelation[] = [...links.values()].map((l) => ({
    source: l.source === AUTHOR ? AUTHOR : nameOf.get(l.source)!,
    target: nameOf.get(l.target)!,
    description: l.description,
    weight: l.weight,
    chunkIndexes: [...l.chunks].sort((a, b) => a - b),
  }));
  return { entities, relations };
}

// Offline entities and relations (MEMORY-TRAINING A3 fallback): `compromise` tags names, kinship
// phrases ("my sister Anna") give the author's relations and sentence co-occurrence gives the rest.
// mergeEntities turns per-document extractions (from this or the LLM) into the snapshot's rows.
import { createHash } from 'node:crypto';
import nlp from 'compromise';
import type {
  EntityRow,
  EntityType,
  ExtractedEntity,
  ExtractedRelation,
  ExtractorSource,
  RelationRow,
} from '../model.ts';
import { splitSentences } from './sentences.ts';
import { isStopword } from './terms.ts';

/** A kinship relation's source: the person whose memory this is (the integrator maps it). */
export const AUTHOR = '(author)';
export const CO_OCCURS = 'co-occurs';

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
const HONORIFICS = new Set(
  (
    'dr doctor mr mrs ms mx miss mister prof professor sir dame lord lady rev revd reverend hon ' +
    'sen gen col capt lt sgt madam madame'
  ).split(' '),
);
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

/** The merge key of a name: no honorifics, possessive, surrounding punctuation, case or extra spaces. */
export function normalizeEntityName(name: string): string {
  const flat = name
    .normalize('NFKC')
    .replaceAll('’', "'")
    .toLowerCase()
    .replace(/^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu, '')
    .replace(/'s$/u, '')
    .replace(/\s+/g, ' ');
  const tokens = flat.split(' ');
  let first = 0;
  while (first < tokens.length - 1 && HONORIFICS.has(tokens[first]!.replace(/\.$/, ''))) first++;
  const key = tokens
    .slice(first)
    .join(' ')
    .replace(/^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu, '');
  return key || flat;
}

/** A name as written, without trailing punctuation or a possessive: "Dr. Maria Chen." → "Dr. Maria Chen". */
function cleanName(name: string): string {
  return name
    .replace(/^[\s"'“‘([{]+|[\s.,;:!?"'”’)\]}]+$/gu, '')
    .replace(/['’]s$/u, '')
    .replace(/\s+/g, ' ');
}

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

/** The most counted key; ties go to the longest, then the first in sort order. */
function mostFrequent<T extends string>(counts: Map<T, number>): T {
  let best: T | null = null;
  let bestCount = -1;
  for (const [value, count] of counts) {
    if (
      best === null ||
      count > bestCount ||
      (count === bestCount && (value.length > best.length || (value.length === best.length && value < best)))
    ) {
      best = value;
      bestCount = count;
    }
  }
  return best!;
}

const hash16 = (text: string) => createHash('sha1').update(text).digest('hex').slice(0, 16);
export const entityIdOf = (type: EntityType, key: string) => `e-${hash16(`${type}\0${key}`)}`;

export interface DocumentEntities {
  documentId: string;
  chunkIdOf: (index: number) => string;
  entities: readonly ExtractedEntity[];
  relations: readonly ExtractedRelation[];
  source: ExtractorSource;
}

/**
 * One row per (type, normalised name) over all documents. A one-word person name joins the only
 * longer person name of its document that starts or ends with it ("Maria" → "Maria Chen").
 */
export function mergeEntities(perDocument: readonly DocumentEntities[]): {
  entities: EntityRow[];
  relations: RelationRow[];
} {
  interface Merged {
    type: EntityType;
    key: string;
    fullForms: Map<string, number>;
    textUnitIds: Set<string>;
    documentIds: Set<string>;
    mentionCount: number;
    llm: boolean;
    description: string | undefined;
  }
  const merged = new Map<string, Merged>();
  interface MergedRelation {
    source: string;
    target: string;
    description: string;
    weight: number;
    textUnitIds: Set<string>;
  }
  const relations = new Map<string, MergedRelation>();
  const documents = [...perDocument].sort((a, b) =>
    a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0,
  );

  for (const doc of documents) {
    const keyed = doc.entities
      .map((entity) => ({ entity, name: normalizeEntityName(entity.name) }))
      .filter((e) => e.name.length > 0);
    const longerPeople = keyed
      .filter((e) => e.entity.type === 'person' && e.name.includes(' '))
      .map((e) => e.name);
    const idByName = new Map<string, string>();
    for (const { entity, name } of keyed) {
      let key = name;
      let full = true;
      if (entity.type === 'person' && !name.includes(' ')) {
        const owners = new Set(
          longerPeople.filter((long) => long.startsWith(`${name} `) || long.endsWith(` ${name}`)),
        );
        if (owners.size === 1) {
          key = [...owners][0]!;
          full = false;
        }
      }
      const id = entityIdOf(entity.type, key);
      if (!idByName.has(entity.name)) idByName.set(entity.name, id);
      let row = merged.get(id);
      if (!row) {
        row = {
          type: entity.type,
          key,
          fullForms: new Map(),
          textUnitIds: new Set(),
          documentIds: new Set(),
          mentionCount: 0,
          llm: false,
          description: undefined,
        };
        merged.set(id, row);
      }
      const title = cleanName(entity.name);
      if (full) row.fullForms.set(title, (row.fullForms.get(title) ?? 0) + Math.max(1, entity.mentions));
      for (const index of [...entity.chunkIndexes].sort((a, b) => a - b))
        row.textUnitIds.add(doc.chunkIdOf(index));
      row.documentIds.add(doc.documentId);
      row.mentionCount += entity.mentions;
      if (doc.source === 'llm') {
        row.llm = true;
        if (!row.description && entity.description?.trim()) row.description = entity.description.trim();
      }
    }
    const resolve = (name: string): string | undefined =>
      name === AUTHOR ? AUTHOR : (idByName.get(name) ?? idByName.get(cleanName(name)));
    for (const relation of doc.relations) {
      let source = resolve(relation.source);
      let target = resolve(relation.target);
      if (!source || !target || source === target) continue;
      // Co-occurrence has no direction: one row per pair.
      if (relation.description === CO_OCCURS && target < source) [source, target] = [target, source];
      const id = `r-${hash16(`${source}\0${target}\0${relation.description}`)}`;
      let row = relations.get(id);
      if (!row) {
        row = { source, target, description: relation.description, weight: 0, textUnitIds: new Set() };
        relations.set(id, row);
      }
      row.weight += relation.weight;
      for (const index of [...relation.chunkIndexes].sort((a, b) => a - b))
        row.textUnitIds.add(doc.chunkIdOf(index));
    }
  }

  const entities: EntityRow[] = [];
  for (const [id, row] of merged) {
    const forms = row.fullForms.size > 0 ? row.fullForms : new Map([[row.key, 1]]);
    const passages = row.textUnitIds.size;
    entities.push({
      id,
      title: mostFrequent(forms),
      type: row.type,
      description:
        row.description ?? `${row.type} mentioned in ${passages} ${passages === 1 ? 'passage' : 'passages'}`,
      textUnitIds: [...row.textUnitIds],
      documentIds: [...row.documentIds].sort(),
      mentionCount: row.mentionCount,
      source: row.llm ? 'llm' : 'compromise',
    });
  }
  entities.sort((a, b) => b.mentionCount - a.mentionCount || (a.id < b.id ? -1 : 1));
  const rows = [...relations]
    .filter(([, r]) => (r.source === AUTHOR || merged.has(r.source)) && merged.has(r.target))
    .map(([id, r]) => ({ id, ...r, textUnitIds: [...r.textUnitIds] }))
    .sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : 1));
  return { entities, relations: rows };
}

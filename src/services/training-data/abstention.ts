import { createHash } from 'node:crypto';
import { vocabulary } from './grounding.ts';
import type { Material } from './material.ts';
import { ABSTAIN_ANSWER, type Draft, TEMPLATE_GENERATOR } from './records.ts';

// Refusals (MEMORY-TRAINING.md B, new): questions memory cannot answer, answered "I don't have
// that in my memories, so I won't guess." Personal attributes the corpus never mentions (each
// checked by its regex over every usable chunk and the bio) and people or places it never names.
// The same for both generators: a refusal needs no model.

export interface AbsentAttribute {
  probe: string;
  questions: string[];
  /** Any match in the corpus means memory may hold it: the attribute is not used. */
  mentioned: RegExp;
}

export const ATTRIBUTES: readonly AbsentAttribute[] = [
  {
    probe: 'birthday',
    questions: ['When is your birthday?', 'What is your date of birth?'],
    mentioned: /\bbirth ?days?\b|\bborn\b|\bdate of birth\b|\bbirth ?date\b/i,
  },
  {
    probe: 'age',
    questions: ['How old are you?', 'What is your age?'],
    mentioned: /\byears? old\b|\bmy age\b|\baged? \d/i,
  },
  {
    probe: 'address',
    questions: ['What is your home address?', 'Which street do you live on?'],
    mentioned: /\baddress\b|\blive (?:at|on)\b|\b\d+ \w+ (?:street|st|road|rd|avenue|ave|lane)\b/i,
  },
  {
    probe: 'phone',
    questions: ['What is your phone number?'],
    mentioned: /\bphone\b|\bmobile number\b|\+?\d[\d -]{7,}\d/i,
  },
  { probe: 'email', questions: ['What is your email address?'], mentioned: /@|\be-?mail\b/i },
  {
    probe: 'salary',
    questions: ['How much do you earn?', 'What is your salary?'],
    mentioned: /\bsalary\b|\bearn(?:s|ed|ing)?\b|\bincome\b|\bwages?\b/i,
  },
  { probe: 'blood type', questions: ['What is your blood type?'], mentioned: /\bblood (?:type|group)\b/i },
  { probe: 'passport', questions: ['What is your passport number?'], mentioned: /\bpassport\b/i },
  {
    probe: 'social security number',
    questions: ['What is your social security number?'],
    mentioned: /\bsocial security\b|\bssn\b/i,
  },
  { probe: 'shoe size', questions: ['What is your shoe size?'], mentioned: /\bshoe size\b|\bshoes?\b/i },
  {
    probe: 'height',
    questions: ['How tall are you?'],
    mentioned: /\btall\b|\bheight\b|\b\d+ ?cm\b|\bfeet\b/i,
  },
  {
    probe: 'weight',
    questions: ['How much do you weigh?'],
    mentioned: /\bweigh(?:s|t|ed)?\b|\bkilos?\b|\bpounds\b/i,
  },
  { probe: 'bank', questions: ['Which bank do you use?'], mentioned: /\bbank(?:ing)?\b|\baccount number\b/i },
  {
    probe: 'maiden name',
    questions: ["What is your mother's maiden name?"],
    mentioned: /\bmaiden name\b/i,
  },
  {
    probe: 'licence plate',
    questions: ["What is your car's licence plate?"],
    mentioned: /\bplates?\b|\bregistration\b/i,
  },
  {
    probe: 'wedding anniversary',
    questions: ['When is your wedding anniversary?'],
    mentioned: /\banniversary\b|\bwedding\b|\bmarried\b/i,
  },
  { probe: 'pin', questions: ['What is the PIN of your bank card?'], mentioned: /\bpin\b|\bbank card\b/i },
];

// Invented names no corpus is expected to hold; each is used only when none of its words is in it.
const UNKNOWN_PEOPLE = [
  'Bartholomew Quill',
  'Ottilie Fenwick',
  'Casimir Drayton',
  'Marisol Vantongeren',
  'Evander Pike',
  'Lucinda Okafor',
  'Thaddeus Wren',
  'Philippa Marchetti',
  'Ignatius Holloway',
  'Rosalind Achterberg',
];
const UNKNOWN_PLACES = ['Port Elsinora', 'Velmarsh', 'Quillon Heights', 'Lake Sarvenne', 'Drummorrow'];
const PERSON_QUESTIONS = [
  (n: string) => `Who is ${n}?`,
  (n: string) => `When did you last see ${n}?`,
  (n: string) => `What did ${n} give you?`,
  (n: string) => `How did you meet ${n}?`,
];
const PLACE_QUESTIONS = [
  (p: string) => `When did you visit ${p}?`,
  (p: string) => `What did you do in ${p}?`,
  (p: string) => `Who do you know in ${p}?`,
];

const rank = (seed: number, key: string) => createHash('sha256').update(`${seed}\0${key}`).digest('hex');

/** Every refusal the corpus allows, in a seeded order (the first `n` are the ones used). */
export function abstentionPool(material: Material, seed: number): Draft[] {
  const corpus = [material.bioText ?? '', ...material.chunks.map((c) => c.text)];
  const words = vocabulary(...corpus);
  const pool: Draft[] = [];
  const add = (question: string, probe: string, kind: string) =>
    pool.push({
      type: 'abstention',
      question,
      answer: ABSTAIN_ANSWER,
      sourceChunkIds: [],
      generator: TEMPLATE_GENERATOR,
      meta: { probe_kind: kind },
      probe,
    });
  for (const attribute of ATTRIBUTES) {
    if (corpus.some((text) => attribute.mentioned.test(text))) continue;
    for (const q of attribute.questions) add(q, attribute.probe, 'attribute');
  }
  const unknown = (name: string) => name.split(' ').every((w) => !words.has(w.toLowerCase()));
  for (const name of UNKNOWN_PEOPLE.filter(unknown))
    for (const q of PERSON_QUESTIONS) add(q(name), name, 'unknown-person');
  const topics = material.snapshot.topics.filter((t) => t.depth === 0).slice(0, 20);
  for (const name of UNKNOWN_PEOPLE.filter(unknown))
    for (const topic of topics)
      add(`What did ${name} tell you about ${topic.label}?`, name, 'unknown-person');
  for (const place of UNKNOWN_PLACES.filter(unknown))
    for (const q of PLACE_QUESTIONS) add(q(place), place, 'unknown-place');
  return pool.sort((a, b) => rank(seed, a.question).localeCompare(rank(seed, b.question)));
}

/** Whether any usable chunk or the bio mentions the refusal's attribute or name. */
export function probeIsPresent(material: Material, draft: Draft): boolean {
  const corpus = [material.bioText ?? '', ...material.chunks.map((c) => c.text)];
  const attribute = ATTRIBUTES.find((a) => a.probe === draft.probe);
  if (attribute) return corpus.some((text) => attribute.mentioned.test(text));
  const words = vocabulary(...corpus);
  return (draft.probe ?? '').split(' ').some((w) => words.has(w.toLowerCase()));
}

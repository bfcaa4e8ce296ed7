import { firstPersonSentences } from '../memory/text/sentences.ts';
import { unsourcedFacts, vocabulary } from './grounding.ts';
import type { Material } from './material.ts';
import { type Draft, TEMPLATE_GENERATOR } from './records.ts';
import {
  bioSentences,
  type ClusterUnit,
  chunksSharing,
  clusterUnits,
  type EntityUnit,
  entityUnits,
  toFirstPerson,
} from './units.ts';

// The offline generator `template-v1` (MEMORY-TRAINING.md B): fixed questions answered only with
// the person's own sentences, quoted as written, so no answer can state a fact the corpus does
// not hold. Deterministic: the same L1 version gives the same drafts.

const SENTENCES_PER_ANSWER = 2;
const flat = (text: string) => text.replace(/\s+/g, ' ');

function draft(
  type: Draft['type'],
  question: string,
  parts: { text: string; chunkId: string }[],
  meta: Record<string, string>,
): Draft {
  return {
    type,
    question,
    answer: parts.map((p) => p.text).join(' '),
    sourceChunkIds: [...new Set(parts.map((p) => p.chunkId))],
    generator: TEMPLATE_GENERATOR,
    meta,
  };
}

/**
 * 1–2 per cluster: "What do you think about {subject}?" → central first-person sentences, each
 * answer from one chunk (a record citing one chunk costs the train/eval split the least).
 */
export function templatePreference(unit: ClusterUnit): Draft[] {
  const sentences = firstPersonSentences(
    unit.chunks.map((c) => c.text),
    unit.cluster.keywords,
    SENTENCES_PER_ANSWER * 4,
  );
  const located = sentences
    .map((text) => ({ text, chunkId: unit.chunks.find((c) => flat(c.text).includes(text))?.id ?? '' }))
    .filter((s) => s.chunkId);
  const meta = { clusterId: unit.cluster.clusterId, topic: unit.subject };
  const questions = [
    `What do you think about ${unit.subject}?`,
    `What is your experience with ${unit.subject}?`,
  ];
  const out: Draft[] = [];
  const usedChunks = new Set<string>();
  for (const question of questions) {
    const first = located.find((s) => !usedChunks.has(s.chunkId));
    if (!first) break;
    usedChunks.add(first.chunkId);
    const parts = located.filter((s) => s.chunkId === first.chunkId).slice(0, SENTENCES_PER_ANSWER);
    out.push(draft('preference', question, parts, meta));
  }
  return out;
}

const ENTITY_QUESTIONS = [
  (name: string) => `What do you remember about ${name}?`,
  (name: string) => `Tell me more about ${name}.`,
  (name: string) => `What else comes to mind about ${name}?`,
];

/** 1–3 per entity (infoRecall): its evidence sentences, up to two an answer, each answer from one chunk. */
export function templateDiversity(unit: EntityUnit): Draft[] {
  const out: Draft[] = [];
  const byChunk = new Map<string, { text: string; chunkId: string }[]>();
  for (const s of unit.sentences) byChunk.set(s.chunkId, [...(byChunk.get(s.chunkId) ?? []), s]);
  const groups = [...byChunk.values()].flatMap((list) => {
    const chunks: (typeof list)[] = [];
    for (let i = 0; i < list.length; i += SENTENCES_PER_ANSWER)
      chunks.push(list.slice(i, i + SENTENCES_PER_ANSWER));
    return chunks;
  });
  groups.slice(0, ENTITY_QUESTIONS.length).forEach((parts, i) => {
    const chunk = unit.chunks.find((c) => c.id === parts[0]!.chunkId)!;
    out.push(
      draft('diversity', ENTITY_QUESTIONS[i]!(unit.entity.title), parts, {
        entity_name: unit.entity.title,
        question_type: 'infoRecall',
        answer_type: 'infoBased',
        doc_id: chunk.documentId,
      }),
    );
  });
  return out;
}

// The bio's sentences by what they say (bio-offline.ts writes these shapes; an LLM bio falls
// through to the general questions).
const SELF_QUESTIONS: { test: RegExp; question: string }[] = [
  { test: /\bpeople\b/i, question: 'Who are the people who come up most in your life?' },
  { test: /\bplaces\b/i, question: 'Which places matter to you?' },
  { test: /\b(lately|recently)\b/i, question: 'What have you been up to lately?' },
  { test: /\bin your words\b/i, question: 'How would you describe yourself in your own words?' },
  { test: /\bread about\b/i, question: 'What do you like to read about?' },
  { test: /\bwrite\b/i, question: 'What do you write about most?' },
];
const GENERAL_QUESTIONS = ['Tell me about yourself.', 'Who are you?', 'What matters most to you?'];

// a bio quoting a chat chunk keeps its `user:` turn marker
const ownWords = (sentence: string) => toFirstPerson(sentence).replace(/\buser:\s*/gi, '');

/** The bio's sentences in the first person, each the answer to the question its content fits. */
export function templateSelfqa(material: Material, maxQuestions = 22): Draft[] {
  const sentences = bioSentences(material).filter((s) => !/^Nothing new\b|^Memory holds nothing\b/.test(s));
  if (sentences.length === 0) return [];
  const sources = material.bio.sourceChunkIds
    .map((id) => material.byId.get(id))
    .filter((c) => c !== undefined);
  const out: Draft[] = [];
  const used = new Set<string>();
  const ask = (question: string, answer: string) => {
    if (used.has(question) || out.length >= maxQuestions) return;
    used.add(question);
    const cited = chunksSharing(sources, answer, 1);
    out.push({
      type: 'selfqa',
      question,
      answer,
      sourceChunkIds: cited.map((c) => c.id),
      generator: TEMPLATE_GENERATOR,
      meta: { from: 'bio' },
    });
  };
  // the bio may name what only an imported assistant's turn held: answer only with what the
  // person's own chunks name too
  const own = vocabulary(...material.chunks.map((c) => c.text));
  const grounded = sentences.filter((s) => unsourcedFacts(s, own).length === 0);
  for (const sentence of grounded) {
    const match = SELF_QUESTIONS.find((q) => q.test.test(sentence));
    if (match) ask(match.question, ownWords(sentence));
  }
  if (grounded.length) ask(GENERAL_QUESTIONS[0]!, ownWords(grounded.slice(0, 3).join(' ')));
  return out;
}

/** Every draft of the offline generator except abstention (abstention.ts serves both generators). */
export function templateDrafts(material: Material): Draft[] {
  return [
    ...clusterUnits(material).flatMap(templatePreference),
    ...entityUnits(material).flatMap(templateDiversity),
    ...templateSelfqa(material),
  ];
}

import { createHash } from 'node:crypto';
import pMap from 'p-map';
import { z } from 'zod';
import { askForJson, type CheckResult, TransportBreaker, truncate } from '../memory/llm/json-call.ts';
import type { TextModel } from '../ports/text-model.ts';
import type { Material, MaterialChunk } from './material.ts';
import type { Draft } from './records.ts';
import { templateDiversity, templatePreference, templateSelfqa } from './template-generator.ts';
import { type ClusterUnit, chunksSharing, clusterUnits, type EntityUnit, entityUnits } from './units.ts';

// The LLM generator (MEMORY-TRAINING.md B): one JSON call per cluster (preference, from its
// representative chunk text and the bio), per entity (diversity, ≤4 evidence chunks) and per group
// of the self questions (from the bio and the chunks that share their words). Each answer keeps the
// chunks it was written from as `sourceChunkIds`; grounding (assemble.ts) then drops any answer that
// names what they do not hold. A unit whose calls fail falls back to the template's drafts, and
// each draft records which generator wrote it.

export interface LlmGeneratorOptions {
  concurrency: number;
  seed: number;
  signal?: AbortSignal;
  /** Transport failures in a row after which the remaining units use the template (default 3). */
  maxTransportFailures?: number;
}

export interface LlmGeneration {
  drafts: Draft[];
  calls: number;
  fallbacks: number;
  invalidAnswers: number;
}

const EXCERPT_CHARS = 700;
const BIO_CHARS = 1200;

const RULES = `Use only what the profile and the excerpts say. Never add a name, number, date, place or other fact that is not written there.
Answers are in the first person, as the person would say them, one to four sentences.`;

const PREFERENCE_SYSTEM = `You write training data for a person's digital twin. The excerpts are the person's own notes on one topic.
Write 1 or 2 questions someone could ask the person about their opinions, habits or experience on this topic, each with the person's answer.
${RULES}
If the excerpts hold no opinion or experience to answer from, return no pairs.
Answer with one JSON object and nothing else: {"pairs": [{"q": "question", "a": "answer"}]}`;

// Second-Me's diversity question types and the answer type each asks for.
const QUESTION_TYPES = [
  { type: 'infoRecall', answer: 'infoBased', weight: 4, ask: 'asks what the person remembers about it' },
  { type: 'openEnded', answer: 'narrative', weight: 2, ask: 'invites the person to talk about it freely' },
  {
    type: 'suggestionRequest',
    answer: 'suggestion',
    weight: 1.5,
    ask: 'asks the person for a suggestion involving it',
  },
  { type: 'emotionalExchange', answer: 'emotion', weight: 1.5, ask: 'asks how the person feels about it' },
  { type: 'global', answer: 'narrative', weight: 1, ask: 'asks what role it plays in the person’s life' },
] as const;

const DIVERSITY_SYSTEM = `You write training data for a person's digital twin. The excerpts are the person's own notes that mention one entity.
For each question type you are given, write one question about the entity of that type and the person's answer.
${RULES}
If the excerpts cannot answer a type, leave it out.
Answer with one JSON object and nothing else: {"pairs": [{"type": "the question type", "q": "question", "a": "answer"}]}`;

/** Identity questions (the shape of Second-Me's selfqa list, written for this project). */
export const SELF_QUESTIONS = [
  'Who are you?',
  'Tell me about yourself.',
  'What do you spend most of your time on?',
  'What are your hobbies?',
  'What do you care about most?',
  'What do you write about most?',
  'Who are the people who matter most to you?',
  'Which places matter to you?',
  'What have you been up to lately?',
  'What are you working on these days?',
  'What do you enjoy doing on weekends?',
  'What are you good at?',
  'What would you like to learn next?',
  'What are your plans for the future?',
  'How would your friends describe you?',
  'What makes you happy?',
  'What do you find difficult?',
  'What is a typical day like for you?',
  'What are you proud of?',
  'What do you like to read about?',
  'What is something you would recommend to a friend?',
  'How would you describe yourself in three words?',
] as const;
const SELF_GROUP = 6;

const SELFQA_SYSTEM = `You answer questions as a person's digital twin, from the person's profile and excerpts of their own notes.
${RULES}
When the profile and excerpts do not hold the answer to a question, answer it with exactly "NONE".
Answer with one JSON object and nothing else: {"answers": [{"q": "the question as given", "a": "answer"}]}`;

const pairsSchema = z.object({
  pairs: z
    .array(
      z.object({ type: z.string().optional(), q: z.string().trim().min(3), a: z.string().trim().min(1) }),
    )
    .max(6),
});
const answersSchema = z.object({
  answers: z.array(z.object({ q: z.string().trim(), a: z.string().trim() })).max(SELF_QUESTIONS.length),
});

function checkWith<T>(schema: z.ZodType<T>) {
  return (json: unknown): CheckResult<T> => {
    const parsed = schema.safeParse(json);
    return parsed.success
      ? { ok: true, value: parsed.data }
      : { ok: false, error: z.prettifyError(parsed.error) };
  };
}

const excerpts = (chunks: readonly MaterialChunk[]) =>
  chunks.map((c, i) => `[${i + 1}] ${truncate(c.text, EXCERPT_CHARS)}`).join('\n\n');
const profile = (material: Material) => truncate(material.bioText ?? '(no profile yet)', BIO_CHARS);
const unit01 = (seed: number, key: string) =>
  Number.parseInt(createHash('sha256').update(`${seed}\0${key}`).digest('hex').slice(0, 8), 16) / 2 ** 32;

/** The answer's sources: the given chunks it shares words with, else all of them. */
function sourcesOf(chunks: readonly MaterialChunk[], answer: string): string[] {
  const sharing = chunksSharing(chunks, answer, chunks.length);
  return (sharing.length ? sharing : chunks).map((c) => c.id);
}

/** 1–3 question types for an entity, weighted, seeded, distinct. */
export function questionTypesFor(unit: EntityUnit, seed: number) {
  const n = Math.min(
    3,
    1 + (unit.entity.mentionCount >= 3 ? 1 : 0) + (unit.entity.mentionCount >= 6 ? 1 : 0),
  );
  const left = [...QUESTION_TYPES];
  const picked: (typeof QUESTION_TYPES)[number][] = [];
  for (let i = 0; i < n && left.length; i++) {
    const total = left.reduce((s, t) => s + t.weight, 0);
    const r = unit01(seed, `${unit.entity.id}:${i}`) * total;
    let sum = 0;
    const at = left.findIndex((t) => {
      sum += t.weight;
      return r < sum;
    });
    picked.push(...left.splice(at < 0 ? left.length - 1 : at, 1));
  }
  return picked;
}

export async function llmDrafts(
  model: TextModel,
  material: Material,
  options: LlmGeneratorOptions,
): Promise<LlmGeneration> {
  const generator = `llm:${model.name}`;
  const breaker = new TransportBreaker(options.maxTransportFailures ?? 3);
  const stats = { calls: 0, fallbacks: 0, invalidAnswers: 0 };

  async function ask<T>(system: string, user: string, schema: z.ZodType<T>, maxTokens: number) {
    if (breaker.open) return null;
    const outcome = await askForJson(model, {
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: user },
      ],
      maxTokens,
      temperature: 0.7,
      check: checkWith(schema),
      signal: options.signal,
    });
    breaker.record(outcome);
    stats.calls += outcome.calls;
    if (outcome.ok) return outcome.value;
    if (outcome.reason === 'invalid') stats.invalidAnswers++;
    return null;
  }
  const fallBack = (drafts: Draft[]) => {
    stats.fallbacks++;
    return drafts;
  };

  const preference = async (unit: ClusterUnit): Promise<Draft[]> => {
    const answer = await ask(
      PREFERENCE_SYSTEM,
      `Topic: ${unit.subject}\n\nProfile:\n${profile(material)}\n\nExcerpts:\n${excerpts(unit.chunks)}`,
      pairsSchema,
      600,
    );
    if (!answer) return fallBack(templatePreference(unit));
    return answer.pairs.slice(0, 2).map((p) => ({
      type: 'preference',
      question: p.q,
      answer: p.a,
      sourceChunkIds: sourcesOf(unit.chunks, p.a),
      generator,
      meta: { clusterId: unit.cluster.clusterId, topic: unit.subject },
    }));
  };

  const diversity = async (unit: EntityUnit): Promise<Draft[]> => {
    const types = questionTypesFor(unit, options.seed);
    const answer = await ask(
      DIVERSITY_SYSTEM,
      `Entity: ${unit.entity.title} (${unit.entity.type})\nQuestion types:\n${types
        .map((t) => `- ${t.type}: a question that ${t.ask}`)
        .join('\n')}\n\nExcerpts:\n${excerpts(unit.chunks)}`,
      pairsSchema,
      800,
    );
    if (!answer) return fallBack(templateDiversity(unit));
    return answer.pairs.slice(0, types.length).map((p, i) => {
      const type = types.find((t) => t.type === p.type) ?? types[i]!;
      const sources = sourcesOf(unit.chunks, p.a);
      return {
        type: 'diversity',
        question: p.q,
        answer: p.a,
        sourceChunkIds: sources,
        generator,
        meta: {
          entity_name: unit.entity.title,
          question_type: type.type,
          answer_type: type.answer,
          doc_id: material.byId.get(sources[0]!)?.documentId ?? '',
        },
      };
    });
  };

  const selfqa = async (questions: readonly string[]): Promise<Draft[] | null> => {
    const bioSources = material.bio.sourceChunkIds
      .map((id) => material.byId.get(id))
      .filter((c): c is MaterialChunk => c !== undefined);
    const chunks = chunksSharing(
      bioSources.length ? bioSources : material.chunks,
      `${questions.join(' ')} ${material.bioText ?? ''}`,
      4,
    );
    const answer = await ask(
      SELFQA_SYSTEM,
      `Profile:\n${profile(material)}\n\nExcerpts:\n${excerpts(chunks)}\n\nQuestions:\n${questions
        .map((q) => `- ${q}`)
        .join('\n')}`,
      answersSchema,
      1200,
    );
    if (!answer) return null;
    const asked = new Set(questions);
    return answer.answers
      .filter((a) => asked.has(a.q))
      .map((a) => ({
        type: 'selfqa',
        question: a.q,
        answer: a.a,
        sourceChunkIds: sourcesOf(chunks, a.a),
        generator,
        meta: { from: 'bio' },
      }));
  };

  const units = [
    ...clusterUnits(material).map((u) => () => preference(u)),
    ...entityUnits(material).map((u) => () => diversity(u)),
  ];
  const groups: string[][] = [];
  if (material.bioText)
    for (let i = 0; i < SELF_QUESTIONS.length; i += SELF_GROUP)
      groups.push(SELF_QUESTIONS.slice(i, i + SELF_GROUP));
  const results = await pMap([...units, ...groups.map((g) => () => selfqa(g))], (run) => run(), {
    concurrency: Math.max(1, options.concurrency),
    signal: options.signal,
  });
  const drafts = results.slice(0, units.length).flat() as Draft[];
  const self = results.slice(units.length) as (Draft[] | null)[];
  if (self.length > 0 && self.every((s) => s === null)) drafts.push(...fallBack(templateSelfqa(material)));
  else for (const s of self) if (s) drafts.push(...s);
  return { drafts, ...stats };
}

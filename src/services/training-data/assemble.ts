import { createHash } from 'node:crypto';
import { buildPrompt } from '../chat/prompt.ts';
import { cosineSimilarity } from '../ports/embedder.ts';
import { factsOf, isRefusal, normaliseQuestion, unsourcedFacts, vocabulary } from './grounding.ts';
import type { Material, MaterialChunk } from './material.ts';
import {
  type Draft,
  type DropReason,
  type EvalItem,
  L2_TYPES,
  type L2Type,
  type TrainingRecord,
} from './records.ts';
import { contentWords } from './units.ts';

// From drafts to the files (MEMORY-TRAINING.md B): the grounding filter, dedupe, the caps, the
// train/eval split with no shared chunk, and each training record's messages, whose system
// message is exactly what the chat path's buildPrompt writes (70 % with sources and two
// distractors, citing [n]; 30 % closed-book; refusals with distractors only).

export const MAX_ANSWER_CHARS = 1200;
export const DUPLICATE_COSINE = 0.95;
export const ABSTENTION_SHARE = 0.1;
const RAG_SHARE = 0.7;
const DISTRACTORS = 2;
const EVAL_SHARE = 0.1;
const EVAL_MIN = 20;
const EVAL_MAX = 100;

export interface Kept {
  id: string;
  draft: Draft;
}

export const emptyDrops = (): Record<DropReason, number> => ({
  'unsourced-fact': 0,
  refusal: 0,
  'too-long': 0,
  empty: 0,
  duplicate: 0,
  cap: 0,
  'split-overlap': 0,
  'eval-cap': 0,
});

const hex = (seed: number, key: string) => createHash('sha256').update(`${seed}\0${key}`).digest('hex');
/** A seeded uniform number in [0, 1) for `key`: the same key and seed, the same number. */
export const unit01 = (seed: number, key: string) =>
  Number.parseInt(hex(seed, key).slice(0, 8), 16) / 2 ** 32;

/** Why a draft cannot be used, or null. Its sources, the bio and the question are all it may state. */
export function groundingProblem(draft: Draft, material: Material): DropReason | null {
  const answer = draft.answer.trim();
  if (!answer || !draft.question.trim()) return 'empty';
  if (isRefusal(answer)) return 'refusal';
  if (answer.length > MAX_ANSWER_CHARS) return 'too-long';
  const sources = draft.sourceChunkIds.map((id) => material.byId.get(id));
  if (sources.some((s) => s === undefined)) return 'unsourced-fact';
  if (draft.type !== 'abstention' && sources.length === 0 && draft.type !== 'selfqa') return 'unsourced-fact';
  const allowed = vocabulary(material.bioText, draft.question, ...sources.map((s) => s!.text));
  return unsourcedFacts(answer, allowed).length > 0 ? 'unsourced-fact' : null;
}

/** Drops exact duplicates of the normalised question, then near ones (cosine ≥ 0.95); the first wins. */
export function dedupe(
  drafts: readonly Draft[],
  vectors: readonly (readonly number[])[] | null,
): { kept: number[]; duplicates: number } {
  const seen = new Set<string>();
  const kept: number[] = [];
  const bags = vectors ? null : drafts.map((d) => bagOf(d.question));
  drafts.forEach((draft, i) => {
    const key = normaliseQuestion(draft.question);
    if (seen.has(key)) return;
    for (const j of kept) {
      const similarity = vectors
        ? cosineSimilarity(vectors[i]!, vectors[j]!)
        : bagCosine(bags![i]!, bags![j]!);
      if (similarity >= DUPLICATE_COSINE) return;
    }
    seen.add(key);
    kept.push(i);
  });
  return { kept, duplicates: drafts.length - kept.length };
}

function bagOf(text: string): Map<string, number> {
  const bag = new Map<string, number>();
  for (const w of normaliseQuestion(text).split(' ')) if (w) bag.set(w, (bag.get(w) ?? 0) + 1);
  return bag;
}
function bagCosine(a: Map<string, number>, b: Map<string, number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [w, x] of a) {
    na += x * x;
    dot += x * (b.get(w) ?? 0);
  }
  for (const x of b.values()) nb += x * x;
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/**
 * At most `max` drafts, refusals kept at ≥10 % where the pool allows: the others are taken round
 * robin across types in the order generated (largest clusters and most mentioned entities first).
 */
export function applyCaps(
  others: readonly Draft[],
  refusals: readonly Draft[],
  max: number,
): { drafts: Draft[]; capped: number } {
  const refusalTarget = Math.min(
    refusals.length,
    Math.max(Math.ceil((others.length * 0.15) / 0.85), 2),
    Math.ceil(max * 0.15),
  );
  // refusals stay about 15 % of the whole even when the pool of them is small
  const room = Math.min(max - refusalTarget, Math.floor((refusalTarget * 0.85) / 0.15));
  const byType = new Map<L2Type, Draft[]>();
  for (const d of others) byType.set(d.type, [...(byType.get(d.type) ?? []), d]);
  const picked: Draft[] = [];
  if (others.length <= room) picked.push(...others);
  else {
    const queues = [...byType.values()];
    for (let i = 0; picked.length < room; i++) {
      let took = false;
      for (const q of queues)
        if (q[i] && picked.length < room) {
          picked.push(q[i]!);
          took = true;
        }
      if (!took) break;
    }
    const order = new Map(others.map((d, i) => [d, i]));
    picked.sort((a, b) => order.get(a)! - order.get(b)!);
  }
  const drafts = [...picked, ...refusals.slice(0, refusalTarget)];
  return { drafts, capped: others.length - picked.length + (refusals.length - refusalTarget) };
}

export const primaryKey = (draft: Draft) =>
  draft.sourceChunkIds[0] ?? `q:${normaliseQuestion(draft.question)}`;

/**
 * Eval takes about 10 % of the records (20–100; a fifth at most of a small set), stratified by
 * type: within each type, primary chunks in seeded hash order, all records of a chosen one. Every
 * other record citing a chunk that eval cites is dropped, so train and eval share no chunk; a
 * candidate that would cost train more than two records is passed over while others remain.
 */
export function split(
  kept: readonly Kept[],
  seed: number,
): { train: Kept[]; eval: Kept[]; overlap: number; evalCap: number } {
  const n = kept.length;
  const target = Math.min(
    EVAL_MAX,
    Math.max(Math.round(n * EVAL_SHARE), Math.min(EVAL_MIN, Math.floor(n / 5))),
  );
  // an eval candidate is a (type, primary chunk) pair: all records of that type from that chunk
  const keyOf = (k: Kept) => `${k.draft.type}\0${primaryKey(k.draft)}`;
  const byKey = new Map<string, Kept[]>();
  for (const k of kept) byKey.set(keyOf(k), [...(byKey.get(keyOf(k)) ?? []), k]);
  const citing = new Map<string, Set<string>>();
  for (const k of kept)
    for (const id of k.draft.sourceChunkIds) citing.set(id, (citing.get(id) ?? new Set()).add(k.id));
  const chosen = new Set<string>();
  const lost = new Set<string>();
  const cost = (key: string) => {
    const own = new Set(byKey.get(key)!.map((k) => k.id));
    const extra = new Set<string>();
    for (const k of byKey.get(key)!)
      for (const id of k.draft.sourceChunkIds)
        for (const other of citing.get(id) ?? []) if (!own.has(other) && !lost.has(other)) extra.add(other);
    return extra.size;
  };
  const choose = (key: string) => {
    chosen.add(key);
    for (const k of byKey.get(key)!)
      for (const id of k.draft.sourceChunkIds) for (const other of citing.get(id) ?? []) lost.add(other);
  };
  for (const type of L2_TYPES) {
    const ofType = kept.filter((k) => k.draft.type === type);
    if (ofType.length === 0) continue;
    const quota = Math.max(ofType.length >= 4 ? 1 : 0, Math.round((target * ofType.length) / n));
    const keys = [...new Set(ofType.map(keyOf))].sort(
      (a, b) => unit01(seed, a) - unit01(seed, b) || a.localeCompare(b),
    );
    let taken = 0;
    for (const pass of [1, 2, Infinity])
      for (const key of keys) {
        if (taken >= quota) break;
        if (chosen.has(key) || byKey.get(key)!.some((k) => lost.has(k.id)) || cost(key) > pass) continue;
        choose(key);
        taken += byKey.get(key)!.length;
      }
  }
  let evalSet = kept.filter((k) => chosen.has(keyOf(k)));
  const evalCap = Math.max(0, evalSet.length - EVAL_MAX);
  evalSet = evalSet.slice(0, EVAL_MAX);
  const inEval = new Set(evalSet.map((k) => k.id));
  const evalChunks = new Set(evalSet.flatMap((k) => k.draft.sourceChunkIds));
  const rest = kept.filter((k) => !inEval.has(k.id) && !chosen.has(keyOf(k)));
  const train = rest.filter((k) => !k.draft.sourceChunkIds.some((id) => evalChunks.has(id)));
  return { train, eval: evalSet, overlap: rest.length - train.length, evalCap };
}

export interface RenderOptions {
  seed: number;
  contextTokens: number;
  historyTokens: number;
}

/**
 * A training record: the chat path's prompt (buildPrompt with the bio, the sources as retrieval
 * would pass them, no history) and the answer, citing the numbers its sources got.
 */
export function renderRecord(
  kept: Kept,
  material: Material,
  distractorPool: readonly MaterialChunk[],
  options: RenderOptions,
): TrainingRecord {
  const { draft } = kept;
  const sources = draft.sourceChunkIds.map((id) => material.byId.get(id)!);
  const context: TrainingRecord['context'] =
    draft.type === 'abstention'
      ? 'distractors'
      : unit01(options.seed, `context:${kept.id}`) < RAG_SHARE
        ? 'rag'
        : 'closed-book';
  let shown: MaterialChunk[] = [];
  if (context !== 'closed-book') {
    const distractors = pickDistractors(kept, sources, distractorPool, options.seed);
    shown = [...sources, ...distractors].sort(
      (a, b) =>
        unit01(options.seed, `order:${kept.id}:${a.id}`) - unit01(options.seed, `order:${kept.id}:${b.id}`),
    );
  }
  const prompt = buildPrompt({
    bio: material.bioText,
    question: draft.question,
    sources: shown.map((c, i) => ({
      id: c.id,
      text: c.text,
      filename: c.filename,
      topic: c.topic,
      score: 1 - i * 0.05,
    })),
    history: [],
    contextTokens: options.contextTokens,
    historyTokens: options.historyTokens,
  });
  const cited = new Set(draft.sourceChunkIds);
  const marks = prompt.sources.filter((s) => cited.has(s.id)).map((s) => `[${s.n}]`);
  const answer =
    context === 'rag' && marks.length ? `${draft.answer.trim()} ${marks.join('')}` : draft.answer.trim();
  return {
    id: kept.id,
    type: draft.type,
    messages: [
      ...prompt.messages.map((m) => ({ role: m.role, content: m.content })),
      { role: 'assistant', content: answer },
    ],
    sourceChunkIds: draft.sourceChunkIds,
    contextChunkIds: prompt.sources.map((s) => s.id),
    context,
    generator: draft.generator,
    l1Version: material.version,
  };
}

/**
 * Two chunks that do not hold the answer, from other clusters where possible: a walk through the
 * pool from a seeded start per record (the pool itself in a seeded order), so a record costs a
 * few hashes, not one per chunk.
 */
function pickDistractors(
  kept: Kept,
  sources: readonly MaterialChunk[],
  pool: readonly MaterialChunk[],
  seed: number,
): MaterialChunk[] {
  if (pool.length === 0) return [];
  const own = new Set(sources.map((s) => s.id));
  const clusters = new Set(sources.map((s) => s.clusterId));
  const start = Math.floor(unit01(seed, `distractor:${kept.id}`) * pool.length);
  const picked: MaterialChunk[] = [];
  const fallback: MaterialChunk[] = [];
  for (let i = 0; i < pool.length && picked.length < DISTRACTORS; i++) {
    const c = pool[(start + i) % pool.length]!;
    if (own.has(c.id)) continue;
    if (!clusters.has(c.clusterId)) picked.push(c);
    else if (fallback.length < DISTRACTORS) fallback.push(c);
  }
  return [...picked, ...fallback].slice(0, DISTRACTORS);
}

/** The chunks distractors are drawn from, in a seeded order. */
export function distractorPool(chunks: readonly MaterialChunk[], seed: number): MaterialChunk[] {
  return chunks
    .map((c) => ({ c, r: unit01(seed, `pool:${c.id}`) }))
    .sort((a, b) => a.r - b.r || a.c.id.localeCompare(b.c.id))
    .map((x) => x.c);
}

/** An eval record: the reference answer and what a correct answer must contain. */
export function evalItem(kept: Kept): EvalItem {
  const { draft } = kept;
  const { names, numbers } = factsOf(draft.answer);
  const abstain = draft.type === 'abstention';
  const salient = [...contentWords(draft.answer)]
    .filter((w) => !contentWords(draft.question).has(w) && !names.some((n) => n.toLowerCase() === w))
    .sort((a, b) => b.length - a.length || a.localeCompare(b))
    .slice(0, 3);
  return {
    id: kept.id,
    type: draft.type,
    question: draft.question,
    reference: draft.answer,
    keyFacts: abstain ? [] : [...new Set([...names, ...numbers, ...salient])],
    names: abstain ? [] : names,
    numbers: abstain ? [] : numbers,
    sourceChunkIds: draft.sourceChunkIds,
    expect: abstain ? 'abstain' : 'answer',
  };
}

/** A record's id: its type and a hash of what it asks and where from (stable across reruns). */
export const recordId = (draft: Draft) =>
  `${draft.type}-${createHash('sha256')
    .update(`${draft.type}\0${normaliseQuestion(draft.question)}\0${draft.sourceChunkIds.join(',')}`)
    .digest('hex')
    .slice(0, 12)}`;

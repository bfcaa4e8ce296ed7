import pMap from 'p-map';
import { factsOf, unsourcedFacts, vocabulary } from '../training-data/grounding.ts';
import type { EvalItem } from '../training-data/records.ts';

// Evaluation of a model on a run's held-out `eval.json` (MEMORY-TRAINING.md D) and the "not worse"
// promotion rule. Pure: the caller passes `answer`, which asks one model through the real chat
// path (retrieval → buildPrompt, temperature 0) and returns its text and the sources it was shown,
// best first. Scores:
//   factAccuracy       answerable items whose answer holds ≥50 % of the key facts (all, if ≤2)
//   tokenF1            SQuAD token F1 against the reference, answerable items
//   abstentionAccuracy unanswerable items refused, with no invented name or number
//   falseAbstention    answerable items refused
//   hallucinationRate  answers stating a name or number absent from context ∪ bio ∪ question
//   retrievalRecallAt5 answerable items with a source chunk in the top 5 retrieved (caps RAG's
//                      fact accuracy); mrr the mean reciprocal rank of the first source chunk
//   nonEmptyRate       answers with any text

export interface EvalAnswer {
  text: string;
  /** The passages the model was shown, best first; `text` lets hallucination check the context. */
  sources: { chunkId: string; text?: string }[];
}

export type Answerer = (question: string) => Promise<EvalAnswer>;

export interface ItemScore {
  id: string;
  expect: EvalItem['expect'];
  answer: string;
  nonEmpty: boolean;
  abstained: boolean;
  /** Answerable: ≥50 % of the key facts (all, if ≤2) present. */
  factHit: boolean | null;
  f1: number | null;
  /** Names and numbers the answer states that nothing it was given holds. */
  hallucinated: string[];
  /** 1-based rank of the first source chunk among those retrieved; null: not retrieved or no sources. */
  sourceRank: number | null;
  error: string | null;
}

export interface EvaluationScores {
  items: number;
  answerable: number;
  unanswerable: number;
  factAccuracy: number;
  tokenF1: number;
  abstentionAccuracy: number;
  falseAbstention: number;
  hallucinationRate: number;
  retrievalRecallAt5: number;
  mrr: number;
  nonEmptyRate: number;
}

export interface ModelEvaluation {
  model: string;
  scores: EvaluationScores;
  items: ItemScore[];
}

// How the chat path's rules and the dataset's refusals say "not in memory".
const ABSTENTION =
  /\b(?:i\s+(?:do\s*n[o']t|don['’]t|cannot|can['’]t|can\s*not)\s+(?:remember|recall|know|say)|(?:do\s*n[o']t|don['’]t)\s+have\s+(?:that|this|it|any\w*)\s+in\s+my\s+memor|won['’]t\s+guess|no\s+(?:memory|memories|record)\s+of|not\s+in\s+my\s+memor|i['’]m\s+not\s+sure|i\s+have\s+no\s+idea)/i;

export function isAbstention(text: string): boolean {
  return ABSTENTION.test(text);
}

const ARTICLES = /\b(?:a|an|the)\b/g;
const tokens = (text: string) =>
  text
    .toLowerCase()
    .replace(/\[\d+\]/g, ' ')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(ARTICLES, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** SQuAD-style token F1. */
export function tokenF1(answer: string, reference: string): number {
  const a = tokens(answer);
  const r = tokens(reference);
  if (a.length === 0 || r.length === 0) return a.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of a) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      common++;
      counts.set(t, n - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / a.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

const normalised = (text: string) => ` ${tokens(text).join(' ')} `;

/** Whether the answer holds enough of the key facts: all when there are ≤2, else at least half. */
export function holdsKeyFacts(answer: string, keyFacts: readonly string[]): boolean {
  if (keyFacts.length === 0) return false;
  const text = normalised(answer);
  const found = keyFacts.filter((fact) => {
    const words = tokens(fact);
    return words.length > 0 && text.includes(` ${words.join(' ')} `);
  }).length;
  return keyFacts.length <= 2 ? found === keyFacts.length : found * 2 >= keyFacts.length;
}

export function scoreAnswer(
  item: EvalItem,
  answer: EvalAnswer,
  bio: string | null,
  error: string | null = null,
): ItemScore {
  const text = answer.text.trim();
  const allowed = vocabulary(bio, item.question, ...answer.sources.map((s) => s.text ?? ''));
  const hallucinated = text ? unsourcedFacts(text, allowed) : [];
  const answerable = item.expect === 'answer';
  const wanted = new Set(item.sourceChunkIds);
  const at = answer.sources.findIndex((s) => wanted.has(s.chunkId));
  const facts = item.keyFacts.length > 0 ? item.keyFacts : factsOf(item.reference).names;
  const factHit = answerable
    ? text.length > 0 &&
      (facts.length > 0 ? holdsKeyFacts(text, facts) : tokenF1(text, item.reference) >= 0.5)
    : null;
  // a hedge that still gives the facts ("I'm not sure, but it was Helix") is an answer
  const abstained = isAbstention(text) && !factHit;
  return {
    id: item.id,
    expect: item.expect,
    answer: text,
    nonEmpty: text.length > 0,
    abstained,
    factHit,
    f1: answerable ? tokenF1(text, item.reference) : null,
    hallucinated,
    sourceRank: answerable && at >= 0 ? at + 1 : null,
    error,
  };
}

const mean = (values: readonly number[]) =>
  values.length ? values.reduce((s, v) => s + v, 0) / values.length : 0;
const round = (x: number) => Math.round(x * 10_000) / 10_000;

export function aggregate(scores: readonly ItemScore[], items: readonly EvalItem[]): EvaluationScores {
  const byId = new Map(items.map((i) => [i.id, i]));
  const answerable = scores.filter((s) => s.expect === 'answer');
  const unanswerable = scores.filter((s) => s.expect === 'abstain');
  const withSources = answerable.filter((s) => (byId.get(s.id)?.sourceChunkIds.length ?? 0) > 0);
  return {
    items: scores.length,
    answerable: answerable.length,
    unanswerable: unanswerable.length,
    factAccuracy: round(mean(answerable.map((s) => (s.factHit ? 1 : 0)))),
    tokenF1: round(mean(answerable.map((s) => s.f1 ?? 0))),
    abstentionAccuracy: round(
      mean(unanswerable.map((s) => (s.abstained && s.hallucinated.length === 0 ? 1 : 0))),
    ),
    falseAbstention: round(mean(answerable.map((s) => (s.abstained ? 1 : 0)))),
    hallucinationRate: round(mean(scores.map((s) => (s.hallucinated.length > 0 ? 1 : 0)))),
    retrievalRecallAt5: round(
      mean(withSources.map((s) => (s.sourceRank !== null && s.sourceRank <= 5 ? 1 : 0))),
    ),
    mrr: round(mean(withSources.map((s) => (s.sourceRank ? 1 / s.sourceRank : 0)))),
    nonEmptyRate: round(mean(scores.map((s) => (s.nonEmpty ? 1 : 0)))),
  };
}

/** Asks every item of `eval.json` (in order; `concurrency` at a time) and scores the answers. */
export async function evaluateModel(
  model: string,
  items: readonly EvalItem[],
  answer: Answerer,
  options: { bio: string | null; concurrency?: number; signal?: AbortSignal },
): Promise<ModelEvaluation> {
  const scored = await pMap(
    items,
    async (item) => {
      try {
        return scoreAnswer(item, await answer(item.question), options.bio);
      } catch (failure) {
        if (options.signal?.aborted) throw failure;
        // a failed answer is an empty one: it counts against nonEmptyRate and every accuracy
        const message = failure instanceof Error ? failure.message : String(failure);
        return scoreAnswer(item, { text: '', sources: [] }, options.bio, message);
      }
    },
    { concurrency: Math.max(1, options.concurrency ?? 1), signal: options.signal },
  );
  return { model, scores: aggregate(scored, items), items: scored };
}

// ---- the promotion rule ----

export const PROMOTION_RULE = {
  /** The candidate must beat the current model's fact accuracy by this much… */
  factGain: 0.02,
  /** …or tie within it (|Δ| < factGain) with strictly better abstention. */
  abstentionSlack: 0.05,
  hallucinationSlack: 0.02,
  minNonEmpty: 0.95,
} as const;

export interface PromotionDecision {
  promote: boolean;
  /** Why (every failed condition when not promoted; the deciding one when promoted). */
  reasons: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * Promote when the candidate is not worse: fact accuracy +0.02 over the current model (or a tie
 * with better abstention), abstention no worse by more than 0.05, hallucination no worse by more
 * than 0.02, ≥95 % non-empty answers, and no worse than the base model with retrieval. With no
 * current model only the last two apply: nothing promoted means users get the base model with
 * retrieval, so a first twin needs only not to lose to it (an invented birthday still blocks it).
 */
export function promotionDecision(input: {
  candidate: EvaluationScores;
  current: EvaluationScores | null;
  base: EvaluationScores | null;
}): PromotionDecision {
  const { candidate: c, current, base } = input;
  const rule = PROMOTION_RULE;
  const failed: string[] = [];
  const factDelta = current ? c.factAccuracy - current.factAccuracy : 0;
  const gained = factDelta >= rule.factGain - 1e-9;
  if (current) {
    const tieBetterAbstention =
      Math.abs(factDelta) < rule.factGain && c.abstentionAccuracy > current.abstentionAccuracy;
    if (!gained && !tieBetterAbstention)
      failed.push(
        `fact accuracy ${pct(c.factAccuracy)} vs current ${pct(current.factAccuracy)}: needs +${pct(rule.factGain)}, or a tie with better abstention`,
      );
  }
  const compare = (other: EvaluationScores, name: string) => {
    if (c.abstentionAccuracy < other.abstentionAccuracy - rule.abstentionSlack - 1e-9)
      failed.push(
        `abstention ${pct(c.abstentionAccuracy)} is worse than ${name}'s ${pct(other.abstentionAccuracy)}`,
      );
    if (c.hallucinationRate > other.hallucinationRate + rule.hallucinationSlack + 1e-9)
      failed.push(
        `hallucination ${pct(c.hallucinationRate)} is worse than ${name}'s ${pct(other.hallucinationRate)}`,
      );
  };
  if (current) compare(current, 'the current model');
  if (c.nonEmptyRate < rule.minNonEmpty - 1e-9)
    failed.push(`only ${pct(c.nonEmptyRate)} of answers are non-empty (needs ${pct(rule.minNonEmpty)})`);
  if (base) {
    if (c.factAccuracy < base.factAccuracy - 1e-9)
      failed.push(
        `fact accuracy ${pct(c.factAccuracy)} is below the base model with retrieval (${pct(base.factAccuracy)})`,
      );
    compare(base, 'the base model with retrieval');
  }
  if (failed.length > 0) return { promote: false, reasons: failed };
  if (!current) return { promote: true, reasons: ['no current model, and no worse than the base model'] };
  return {
    promote: true,
    reasons: [gained ? `fact accuracy +${pct(factDelta)}` : 'fact accuracy tied, abstention better'],
  };
}

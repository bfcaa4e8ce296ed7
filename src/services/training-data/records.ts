// The shapes of L2 data (MEMORY-TRAINING.md B): what a generator proposes (a draft), what the
// trainer reads (`dataset.json`), what evaluation asks (`eval.json`) and the run's manifest.

export const L2_TYPES = ['preference', 'diversity', 'selfqa', 'abstention'] as const;
export type L2Type = (typeof L2_TYPES)[number];

/** The offline generator's name, recorded on every record it wrote. */
export const TEMPLATE_GENERATOR = 'template-v1';

/** What a refusal says, in the dataset and in the chat path's rules alike. */
export const ABSTAIN_ANSWER = "I don't have that in my memories, so I won't guess.";

/** A question and answer a generator proposes, before grounding, dedupe and the split. */
export interface Draft {
  type: L2Type;
  question: string;
  /** Without citation markers: they are added when the prompt numbers its sources. */
  answer: string;
  /** The chunks that hold the answer, the primary (the split key) first; empty for abstention. */
  sourceChunkIds: string[];
  /** `template-v1`, or `llm:{model}`. */
  generator: string;
  /** Type-specific fields of Second-Me's formats (entity_name, question_type, clusterId…). */
  meta: Record<string, string>;
  /** For abstention: what makes the question unanswerable (the attribute or the unknown name). */
  probe?: string;
}

/** Why a draft did not reach the dataset (manifest `drops`). */
export type DropReason =
  | 'unsourced-fact'
  | 'refusal'
  | 'too-long'
  | 'empty'
  | 'duplicate'
  | 'cap'
  | 'split-overlap'
  | 'eval-cap';

/** One record of `training_inputs/dataset.json`: the JSON array modal/twin_gpu/dataset.py reads. */
export interface TrainingRecord {
  id: string;
  type: L2Type;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  sourceChunkIds: string[];
  /** Every chunk the system prompt shows, in its numbering (sources and distractors). */
  contextChunkIds: string[];
  /** `rag` (sources + distractors), `closed-book` (none), `distractors` (abstention). */
  context: 'rag' | 'closed-book' | 'distractors';
  generator: string;
  l1Version: string;
}

/** One record of `training_inputs/eval.json`, held out from training (no chunk shared). */
export interface EvalItem {
  id: string;
  type: L2Type;
  question: string;
  reference: string;
  /** Words and phrases a correct answer contains (names, numbers and salient words of the reference). */
  keyFacts: string[];
  names: string[];
  numbers: string[];
  sourceChunkIds: string[];
  expect: 'answer' | 'abstain';
}

export interface L2Counts {
  train: number;
  eval: number;
  byType: Record<L2Type, number>;
  evalByType: Record<L2Type, number>;
  /** Drafts proposed by the generators, before any drop. */
  proposed: number;
  drops: Record<DropReason, number>;
  /** Records by the generator that wrote them (an LLM item that failed falls back to the template). */
  byGenerator: Record<string, number>;
  /** Chunks of the L1 version usable as sources (text present and unchanged). */
  usableChunks: number;
  /** With the LLM generator: requests sent, units that fell back to the template, invalid answers. */
  llm?: { calls: number; fallbacks: number; invalidAnswers: number };
}

export interface L2Manifest {
  runId: string;
  l1Version: string;
  /** What was asked for: the LLM (through the TextModel port) or the offline template. */
  generator: { kind: 'llm' | 'template'; name: string };
  seed: number;
  counts: L2Counts;
  /** Tenant-relative key → sha256 of the bytes written. */
  files: Record<string, string>;
}

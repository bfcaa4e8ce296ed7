import type { MemoryStage } from './memory.ts';

// The typed event map (DESIGN §7). Every topic is scoped by tenant or by message, so a
// subscriber can only ever name a topic it owns.

export const INGEST_STAGES = [
  'QUEUED',
  'EXTRACTING',
  'CHUNKING',
  'EMBEDDING',
  'INDEXING',
  'DONE',
  'FAILED',
] as const;
export type IngestStage = (typeof INGEST_STAGES)[number];

export interface IngestProgressEvent {
  documentId: string;
  stage: IngestStage;
  done: number;
  total: number;
  attempt: number;
  error: string | null;
}

/** A step of an L1 memory build (MEMORY-TRAINING.md A8), on `memory:{userId}`. */
export interface MemoryProgressEvent {
  /** The version being built. */
  version: string;
  stage: MemoryStage;
  done: number;
  total: number;
  attempt: number;
  error: string | null;
}

/** A training run's state after one change (MEMORY-TRAINING.md C), on `training:{userId}`. */
export interface TrainingStatusEvent {
  runId: string;
  /** What happened: queued, prepared, submitted, started, progress, completed, retrying, failed, cancelled, evaluated, promoted. */
  event: string;
  status: string;
  stage: string | null;
  progress: number;
  attempt: number;
  step: number | null;
  totalSteps: number | null;
  loss: number | null;
  error: string | null;
  promoted: boolean;
}

/** A passage that was in the prompt, as a reply cites it. */
export interface ReplySource {
  documentId: string;
  chunkIndex: number;
  s3Path: string;
  charStart: number;
  charEnd: number;
  page: number | null;
  score: number;
}

export type ReplyEvent =
  | { type: 'token'; text: string; index: number }
  | { type: 'citations'; sources: ReplySource[] }
  | {
      type: 'done';
      model: string;
      finishReason: string;
      usage: { promptTokens: number; completionTokens: number; totalTokens: number } | null;
    }
  | { type: 'failed'; error: string };

export interface EventMap {
  ingest: IngestProgressEvent;
  memory: MemoryProgressEvent;
  training: TrainingStatusEvent;
  reply: ReplyEvent;
}

export type EventKind = keyof EventMap;

/** An event as delivered: the payload plus its per-topic sequence number (1, 2, 3, …). */
export type Sequenced<T> = T & { seq: number };

export function topicOf(kind: EventKind, scope: string): string {
  return `${kind}:${scope}`;
}

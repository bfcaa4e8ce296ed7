import { z } from 'zod';
import type { LossPoint, TrainingRunPatch, TrainingRunRow } from '../ports/training-repository.ts';

// What one signed training callback does to its run (MEMORY-TRAINING.md C), as a pure function of
// the run's row and the event: the route records every event and applies only what this allows,
// so a replay, a late event of a finished attempt or a reordered one never moves a run backwards.

export const CALLBACK_EVENTS = ['started', 'progress', 'completed', 'failed'] as const;

/** The callback body of DESIGN §8 (`attempt` in the signed body since contract revision 2). */
export const callbackBodySchema = z.object({
  runId: z.string().min(1),
  attempt: z.number().int().min(1).optional(),
  seq: z.number().int().min(1),
  event: z.enum(CALLBACK_EVENTS),
  stage: z.string().max(64).nullish(),
  step: z.number().int().min(0).nullish(),
  totalSteps: z.number().int().min(0).nullish(),
  loss: z.number().nullish(),
  artifacts: z.record(z.string(), z.unknown()).nullish(),
  error: z.string().nullish(),
  /** false: no retry can help (a bad dataset); the run fails at once. */
  retryable: z.boolean().nullish(),
});
export type CallbackBody = z.infer<typeof callbackBodySchema>;

export type CallbackDecision =
  | { kind: 'ignore'; reason: 'other-attempt' | 'not-processing' | 'stale-seq' }
  | { kind: 'progress'; patch: TrainingRunPatch }
  | { kind: 'completed'; patch: TrainingRunPatch }
  /** `retry`: a next attempt is due (the patch already names it); else the run failed for good. */
  | { kind: 'failed'; retry: boolean; error: string; patch: TrainingRunPatch };

type RunState = Pick<
  TrainingRunRow,
  'status' | 'attempt' | 'lastSeq' | 'progress' | 'lossCurve' | 'startedAt' | 'totalSteps' | 'datasetPath'
>;

/** Share of a run done at each trainer stage; training itself moves between 0.1 and 0.85. */
const STAGE_PROGRESS: Record<string, number> = {
  starting: 0.05,
  loading_data: 0.07,
  loading_model: 0.1,
  training: 0.1,
  saving_adapter: 0.86,
  merging: 0.88,
  converting: 0.9,
  uploading: 0.97,
  completed: 1,
};

export function progressOf(stage: string | null | undefined, step?: number | null, total?: number | null) {
  if (stage === 'training' && step != null && total) return 0.1 + 0.75 * Math.min(step / total, 1);
  if (stage?.startsWith('quantizing')) return 0.93;
  return STAGE_PROGRESS[stage ?? ''] ?? 0;
}

/** The trainer's words for a dataset it cannot use: no retry would change them. */
const DATASET_ERROR = /dataset\.json|no assistant message|not valid JSON|record \d+/i;

export function isPermanentFailure(body: CallbackBody): boolean {
  if (body.retryable === false) return true;
  if (body.retryable === true) return false;
  return body.stage === 'loading_data' && DATASET_ERROR.test(body.error ?? '');
}

export function applyCallback(
  run: RunState,
  body: CallbackBody,
  attempt: number,
  now: Date,
  options: { maxAttempts: number },
): CallbackDecision {
  if (attempt !== run.attempt) return { kind: 'ignore', reason: 'other-attempt' };
  if (run.status !== 'processing') return { kind: 'ignore', reason: 'not-processing' };
  if (body.seq <= run.lastSeq) return { kind: 'ignore', reason: 'stale-seq' };
  const base: TrainingRunPatch = {
    lastSeq: body.seq,
    lastCallbackAt: now,
    ...(run.startedAt ? {} : { startedAt: now }),
  };
  if (body.event === 'failed') {
    const error = body.error?.trim() || `the trainer failed in ${body.stage ?? 'an unknown stage'}`;
    const retry = !isPermanentFailure(body) && run.attempt < options.maxAttempts;
    return {
      kind: 'failed',
      retry,
      error,
      patch: { ...base, ...failurePatch(run, error, retry, now, body.stage) },
    };
  }
  const stage = body.stage ?? null;
  const totalSteps = body.totalSteps ?? run.totalSteps ?? null;
  const lossCurve = appendLoss(run.lossCurve, body.step, body.loss);
  const patch: TrainingRunPatch = {
    ...base,
    stage,
    progress: Math.max(run.progress, progressOf(stage, body.step, totalSteps)),
    ...(body.step != null ? { step: body.step } : {}),
    ...(totalSteps != null ? { totalSteps } : {}),
    ...(body.loss != null ? { loss: body.loss } : {}),
    ...(lossCurve !== run.lossCurve ? { lossCurve } : {}),
  };
  if (body.event !== 'completed') return { kind: 'progress', patch };
  const { artifacts, bytes, metrics } = artifactsOf(body.artifacts);
  return {
    kind: 'completed',
    patch: {
      ...patch,
      status: 'completed',
      stage: 'completed',
      progress: 1,
      completedAt: now,
      error: null,
      artifacts,
      metrics: { ...metrics, fileBytes: bytes },
      ggufPath: artifacts.gguf_q8_0 ?? artifacts.gguf_q4_k_m ?? artifacts.gguf_f16 ?? null,
      evaluation: { status: 'pending' },
    },
  };
}

/** A failed attempt: the next one (attempt + 1, from seq 0) when `retry`, else the run's end. */
export function failurePatch(
  run: Pick<RunState, 'attempt'>,
  error: string,
  retry: boolean,
  now: Date,
  stage?: string | null,
): TrainingRunPatch {
  if (!retry) return { status: 'failed', stage: stage ?? 'failed', error, completedAt: now };
  return {
    attempt: run.attempt + 1,
    lastSeq: 0,
    stage: 'retrying',
    error: `attempt ${run.attempt} failed: ${error}`,
    modalCallId: null,
    submittedAt: null,
    step: null,
    loss: null,
    lossCurve: [],
  };
}

/**
 * The completed event's files: `{files: [{name, key, bytes}], metrics}` (contracts/README.md), or
 * the first revision's `{name: key, …, metrics}`.
 */
export function artifactsOf(raw: Record<string, unknown> | null | undefined) {
  const artifacts: Record<string, string> = {};
  const bytes: Record<string, number> = {};
  const { files, metrics, ...legacy } = raw ?? {};
  if (Array.isArray(files)) {
    for (const f of files as { name?: unknown; key?: unknown; bytes?: unknown }[]) {
      if (typeof f?.name !== 'string' || typeof f.key !== 'string') continue;
      artifacts[f.name] = f.key;
      if (typeof f.bytes === 'number') bytes[f.name] = f.bytes;
    }
  } else {
    for (const [name, key] of Object.entries(legacy)) if (typeof key === 'string') artifacts[name] = key;
  }
  const m = metrics && typeof metrics === 'object' ? (metrics as Record<string, unknown>) : {};
  for (const [name, n] of Object.entries((m.ggufBytes as Record<string, unknown>) ?? {}))
    if (typeof n === 'number') bytes[name] ??= n;
  return { artifacts, bytes, metrics: m };
}

function appendLoss(curve: LossPoint[], step: number | null | undefined, loss: number | null | undefined) {
  if (step == null || loss == null || !Number.isFinite(loss)) return curve;
  if (curve.some((p) => p.step === step)) return curve;
  return [...curve, { step, loss }].sort((a, b) => a.step - b.step);
}

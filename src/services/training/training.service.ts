import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../../logger.ts';
import { DomainError, InvalidInputError, NotFoundError } from '../errors.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { BlobNotFoundError } from '../ports/blob-store.ts';
import type { EventBus } from '../ports/event-bus.ts';
import type { JobQueue, JobRun } from '../ports/job-queue.ts';
import { PermanentJobError } from '../ports/job-queue.ts';
import type { MemoryVersionRow } from '../ports/memory-repository.ts';
import { type Trainer, TrainerRejectedError, TrainerUnavailableError } from '../ports/trainer.ts';
import {
  ACTIVE_STATUSES,
  type TrainingRepository,
  type TrainingRunPatch,
  type TrainingRunRow,
} from '../ports/training-repository.ts';
import { loraKeys, tenantKey, tenantPrefix } from '../tenant-keys.ts';
import { NotEnoughMemoryError } from '../training-data/training-data.errors.ts';
import {
  applyCallback,
  type CallbackBody,
  type CallbackDecision,
  callbackBodySchema,
  failurePatch,
} from './apply-callback.ts';

// Training runs end to end (MEMORY-TRAINING.md C, D): startTraining pins the ready L1 version
// and queues `prepare-training` (L2 data, no GPU), which queues `submit-training` (POST /train
// with the attempt); signed callbacks move the run; a watchdog fails silent attempts; up to
// `maxAttempts` attempts; `completed` queues the evaluation, and a candidate not worse than the
// served model is promoted: its files copied into lora/latest/, the manifest written last.

export class TrainingAlreadyRunningError extends DomainError {
  readonly code = 'TRAINING_ALREADY_RUNNING';
  readonly run: TrainingRunRow;
  constructor(run: TrainingRunRow) {
    super(`training run ${run.id} is already ${run.status}${run.stage ? ` (${run.stage})` : ''}`);
    this.run = run;
  }
}

export class PromotionBlockedError extends DomainError {
  readonly code = 'PROMOTION_BLOCKED';
  readonly runId: string;
  constructor(runId: string, reason: string) {
    super(reason);
    this.runId = runId;
  }
}

/** What a user may set on a run; the rest are the trainer's defaults (modal/twin_gpu/contract.py). */
export const hyperparametersSchema = z
  .object({
    loraR: z.number().int().min(1).max(256),
    loraAlpha: z.number().positive().max(1024),
    loraDropout: z.number().min(0).lt(1),
    learningRate: z.number().positive().max(1),
    epochs: z.number().positive().max(20),
    maxSteps: z.number().int().min(1).max(100_000),
    batchSize: z.number().int().min(1).max(64),
    maxSeqLength: z.number().int().min(16).max(8192),
  })
  .partial()
  .strict();
export type Hyperparameters = z.infer<typeof hyperparametersSchema>;

export interface StartTrainingInput {
  hyperparameters?: unknown;
  baseModel?: string | null;
}

/** What prepare-training asks of the L2 data generator (src/services/training-data/). */
export type PrepareData = (request: {
  userId: string;
  runId: string;
  l1Version: string;
  signal?: AbortSignal;
}) => Promise<{
  counts: object;
  keys: { dataset: string; eval: string; manifest: string };
  generator: { kind: string; name: string };
  l1Version: string;
}>;

/** Scores of one model on eval.json and the promotion decision (MEMORY-TRAINING.md D). */
export interface EvaluationOutcome {
  promote: boolean;
  reason: string;
  [key: string]: unknown;
}

/** Runs the candidate, the served model and the base model over eval.json (the evaluation job). */
export type EvaluateRun = (input: {
  userId: string;
  run: TrainingRunRow;
  current: TrainingRunRow | null;
  signal?: AbortSignal;
}) => Promise<EvaluationOutcome>;

export interface TrainingServiceDeps {
  runs: TrainingRepository;
  trainer: Trainer;
  queue: JobQueue;
  events: EventBus;
  blobs: BlobStore;
  memory: { current(userId: string): Promise<MemoryVersionRow | null> };
  prepareData: PrepareData;
  /** Null: no evaluator wired; a first model is promoted, a later one only by force. */
  evaluate: EvaluateRun | null;
  log: Logger;
}

export interface TrainingServiceOptions {
  /** Where the trainer posts callbacks: `{base}/modal/callbacks/{runId}/{attempt}`. */
  callbackBaseUrl: string;
  /** Set: callbacks are accepted. Unset: startTraining answers TrainerUnavailable. */
  callbackSecret: string | undefined;
  baseModel: string | undefined;
  hyperparameters: Hyperparameters;
  quantizations: string[];
  maxAttempts: number;
  backoffMs: number;
  stallSec: number;
  maxRunSec: number;
  watchdogIntervalMs: number;
  autoPromote: boolean;
  /** Usable L1 chunks below which a run is refused at once (NotEnoughMemory). */
  minChunks: number;
  /** How to get a trainer, for TrainerUnavailable when none is configured. */
  howToGetTrainer: string;
}

export interface CurrentModel {
  /** The name chat sends: `twin:{userId}`. */
  model: string;
  /** The promoted run; null while the base model is served. */
  run: TrainingRunRow | null;
  baseModel: string | null;
}

export type CallbackAnswer = { status: 200 | 400 | 404; body: Record<string, unknown> };

export class TrainingService {
  private readonly deps: TrainingServiceDeps;
  private readonly options: TrainingServiceOptions;

  constructor(deps: TrainingServiceDeps, options: TrainingServiceOptions) {
    this.deps = deps;
    this.options = options;
  }

  get trainerKind(): string {
    return this.deps.trainer.kind;
  }

  // ---- runs as the API shows them ----

  get(userId: string, id: string) {
    if (!z.string().uuid().safeParse(id).success) return Promise.resolve(null);
    return this.deps.runs.get(userId, id);
  }

  list(userId: string, limit: number, after?: { createdAt: Date; id: string }) {
    return this.deps.runs.list(userId, limit, after);
  }

  events(userId: string, runId: string) {
    return this.deps.runs.events(userId, runId);
  }

  async currentModel(userId: string): Promise<CurrentModel> {
    const run = await this.deps.runs.promoted(userId);
    return { model: `twin:${userId}`, run, baseModel: run?.baseModel ?? this.options.baseModel ?? null };
  }

  // ---- start, cancel ----

  async start(userId: string, input: StartTrainingInput = {}): Promise<TrainingRunRow> {
    const parsed = hyperparametersSchema.safeParse(input.hyperparameters ?? {});
    if (!parsed.success)
      throw new InvalidInputError(
        `hyperparameters: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
      );
    const baseModel = input.baseModel?.trim() || this.options.baseModel || null;
    if (baseModel && !/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(baseModel))
      throw new InvalidInputError('baseModel: a model id such as Qwen/Qwen2.5-0.5B-Instruct');
    const active = await this.deps.runs.findActive(userId);
    if (active) throw new TrainingAlreadyRunningError(active);
    if (!this.options.callbackSecret)
      throw new TrainerUnavailableError(
        `MODAL_CALLBACK_SECRET is not set: the trainer signs its callbacks with it. ${this.options.howToGetTrainer}`,
      );
    // a configured trainer that does not answer is refused now, not after the data is made
    await this.deps.trainer.ping(AbortSignal.timeout(5000));
    const memory = await this.deps.memory.current(userId);
    const chunks = memory?.counts?.chunks ?? 0;
    if (!memory || chunks < this.options.minChunks)
      throw new NotEnoughMemoryError('chunks', chunks, this.options.minChunks);

    const id = randomUUID();
    const hyperparameters = { ...this.options.hyperparameters, ...parsed.data };
    const run = await this.deps.runs.create({
      id,
      userId,
      baseModel,
      l1Version: memory.version,
      config: { hyperparameters, quantizations: this.options.quantizations, trainer: this.deps.trainer.kind },
    });
    if (!run) {
      const other = await this.deps.runs.findActive(userId);
      if (other) throw new TrainingAlreadyRunningError(other);
      throw new Error('training run was not created and no active run exists');
    }
    await this.deps.queue.enqueue('prepare-training', { userId, runId: id }, { jobId: `prepare-${id}` });
    await this.publish(run, 'queued');
    return run;
  }

  async cancel(userId: string, id: string): Promise<TrainingRunRow> {
    const run = await this.get(userId, id);
    if (!run) throw new NotFoundError('TrainingRun', id);
    if (!ACTIVE_STATUSES.includes(run.status)) return run;
    const now = new Date();
    const cancelled = await this.deps.runs.update(
      userId,
      id,
      { status: 'cancelled', stage: 'cancelled', cancelRequestedAt: now, completedAt: now, error: null },
      { status: ACTIVE_STATUSES },
    );
    if (!cancelled) return (await this.deps.runs.get(userId, id)) ?? run;
    await Promise.all([
      this.deps.queue.cancel('train', `prepare-${id}`).catch(() => false),
      this.deps.queue.cancel('train', submitJobId(id, run.attempt)).catch(() => false),
    ]);
    if (run.modalCallId) {
      await this.deps.trainer.cancel(run.modalCallId).catch((err: unknown) => {
        this.deps.log.warn({ err, runId: id }, 'the trainer could not be told to cancel the run');
      });
    }
    await this.publish(cancelled, 'cancelled');
    return cancelled;
  }

  // ---- jobs ----

  /** prepare-training: L2 data from the pinned L1 version, then the first submission. */
  async prepare(payload: { userId: string; runId: string }, job: JobRun): Promise<unknown> {
    const { userId, runId } = payload;
    const run = await this.deps.runs.get(userId, runId);
    if (run?.status !== 'queued') return { skipped: run?.status ?? 'missing' };
    const preparing = await this.deps.runs.update(
      userId,
      runId,
      { stage: 'preparing_data', progress: 0 },
      {
        status: ['queued'],
      },
    );
    if (preparing) await this.publish(preparing, 'preparing');
    let data: Awaited<ReturnType<PrepareData>>;
    try {
      data = await this.deps.prepareData({ userId, runId, l1Version: run.l1Version!, signal: job.signal });
    } catch (error) {
      // memory too small, or input no retry can fix: the run fails at once
      if (
        error instanceof NotEnoughMemoryError ||
        error instanceof InvalidInputError ||
        error instanceof NotFoundError
      )
        throw new PermanentJobError(error.message);
      throw error;
    }
    const prepared = await this.deps.runs.update(
      userId,
      runId,
      {
        status: 'processing',
        stage: 'submitting',
        datasetPath: tenantKey(userId, data.keys.dataset),
        dataset: {
          counts: data.counts,
          generator: data.generator,
          l1Version: data.l1Version,
          datasetKey: data.keys.dataset,
          evalKey: data.keys.eval,
          manifestKey: data.keys.manifest,
        },
      },
      { status: ['queued'] },
    );
    if (!prepared) return { skipped: 'cancelled while preparing' };
    await this.publish(prepared, 'prepared');
    await this.deps.queue.enqueue(
      'submit-training',
      { userId, runId, attempt: prepared.attempt },
      { jobId: submitJobId(runId, prepared.attempt) },
    );
    return { datasetPath: prepared.datasetPath };
  }

  /** submit-training: POST /train for one attempt (a retry of the job re-sends the same attempt). */
  async submit(payload: { userId: string; runId: string; attempt: number }, _job: JobRun): Promise<unknown> {
    const { userId, runId, attempt } = payload;
    const run = await this.deps.runs.get(userId, runId);
    if (run?.status !== 'processing' || run.attempt !== attempt) return { skipped: true };
    if (run.modalCallId) return { callId: run.modalCallId };
    try {
      const { callId } = await this.deps.trainer.submit({
        runId,
        userId,
        attempt,
        baseModel: run.baseModel,
        datasetPath: run.datasetPath!,
        outputPrefix: tenantKey(userId, loraKeys.run(runId)),
        hyperparameters: (run.config?.hyperparameters as Record<string, unknown>) ?? {},
        quantizations: (run.config?.quantizations as string[]) ?? this.options.quantizations,
        callbackUrl: `${this.options.callbackBaseUrl.replace(/\/+$/, '')}/modal/callbacks/${runId}/${attempt}`,
      });
      // only the call id and time: a callback may already have moved the stage on
      const submitted = await this.deps.runs.update(
        userId,
        runId,
        { modalCallId: callId, submittedAt: new Date(), loraPath: tenantKey(userId, loraKeys.run(runId)) },
        { status: ['processing'], attempt },
      );
      if (!submitted) {
        // cancelled (or failed) meanwhile: the call must not train for nobody
        await this.deps.trainer.cancel(callId).catch(() => false);
        return { skipped: true };
      }
      await this.publish(submitted, 'submitted');
      await this.scheduleWatchdog();
      return { callId };
    } catch (error) {
      if (error instanceof TrainerRejectedError) throw new PermanentJobError(error.message);
      throw error;
    }
  }

  /** A job of the run failed on its last attempt: the run fails, subscribers are told. */
  async jobFailed(payload: { userId: string; runId: string }, error: Error): Promise<void> {
    const run = await this.deps.runs.update(
      payload.userId,
      payload.runId,
      { status: 'failed', stage: 'failed', error: error.message, completedAt: new Date() },
      { status: ACTIVE_STATUSES },
    );
    if (run) await this.publish(run, 'failed');
  }

  // ---- callbacks ----

  /** The callback route's body, after its signature was verified. */
  async handleCallback(runId: string, pathAttempt: number, raw: unknown): Promise<CallbackAnswer> {
    const parsed = callbackBodySchema.safeParse(raw);
    if (!parsed.success) return { status: 400, body: { error: 'invalid callback body' } };
    const body = parsed.data;
    if (body.runId !== runId) return { status: 400, body: { error: 'runId does not match the URL' } };
    if (body.attempt !== undefined && body.attempt !== pathAttempt)
      return { status: 400, body: { error: 'attempt does not match the URL' } };
    if (!z.string().uuid().safeParse(runId).success) return { status: 404, body: { error: 'unknown run' } };
    const now = new Date();
    let decision: CallbackDecision | null = null;
    const record = await this.deps.runs.recordCallback(
      {
        runId,
        attempt: pathAttempt,
        seq: body.seq,
        event: body.event,
        payload: body as Record<string, unknown>,
      },
      (run) => {
        decision = applyCallback(run, body, pathAttempt, now, { maxAttempts: this.options.maxAttempts });
        return decision.kind === 'ignore' ? null : decision.patch;
      },
    );
    if (record.outcome === 'unknown-run') return { status: 404, body: { error: 'unknown run' } };
    if (record.outcome === 'duplicate') return { status: 200, body: { duplicate: true } };
    if (!record.applied || !decision) return { status: 200, body: { applied: false } };
    await this.afterApplied(record.run, decision, body);
    return { status: 200, body: { applied: true } };
  }

  private async afterApplied(run: TrainingRunRow, decision: CallbackDecision, body: CallbackBody) {
    if (decision.kind === 'progress') return this.publish(run, body.event);
    if (decision.kind === 'completed') {
      await this.publish(run, 'completed');
      await this.deps.queue.enqueue(
        'evaluate-model',
        { userId: run.userId, runId: run.id },
        { jobId: `evaluate-${run.id}` },
      );
      return;
    }
    if (decision.kind === 'failed')
      return this.afterFailure(run, decision.retry, decision.retry ? run.attempt - 1 : run.attempt);
  }

  /** After an attempt failed: the next one is submitted with backoff, or the run is over. */
  private async afterFailure(
    run: TrainingRunRow,
    retry: boolean,
    failedAttempt: number,
    oldCallId?: string | null,
  ) {
    await this.publish(run, retry ? 'retrying' : 'failed');
    if (oldCallId) await this.deps.trainer.cancel(oldCallId).catch(() => false);
    if (!retry) return;
    await this.deps.queue.enqueue(
      'submit-training',
      { userId: run.userId, runId: run.id, attempt: run.attempt },
      {
        jobId: submitJobId(run.id, run.attempt),
        delayMs: this.options.backoffMs * 2 ** Math.max(failedAttempt - 1, 0),
      },
    );
  }

  // ---- watchdog ----

  /** Queues the next watchdog round (one per interval, whoever asks). */
  async scheduleWatchdog(): Promise<void> {
    const interval = this.options.watchdogIntervalMs;
    const due = Math.ceil((Date.now() + interval) / interval) * interval;
    await this.deps.queue.enqueue(
      'train-watchdog',
      { round: due },
      { jobId: `train-watchdog-${due}`, delayMs: Math.max(due - Date.now(), 0) },
    );
  }

  /** At worker start: runs still processing are watched again (their round may have been lost). */
  async resumeWatchdog(): Promise<void> {
    if (await this.deps.runs.anyProcessing()) await this.scheduleWatchdog();
  }

  /** train-watchdog: every silent processing run is asked about; a dead attempt is failed. */
  async watchdog(_job: JobRun): Promise<{ checked: number; failed: number }> {
    const silent = await this.deps.runs.claimSilent(this.options.stallSec, 50);
    let failed = 0;
    for (const run of silent) {
      if (!run.modalCallId || !run.submittedAt) continue;
      let state: string;
      let detail: string | null = null;
      try {
        ({ state, detail } = await this.deps.trainer.status(run.modalCallId));
      } catch (err) {
        // the trainer is down: it cannot say the call is dead; the next round asks again
        this.deps.log.warn({ err, runId: run.id }, 'watchdog could not ask the trainer about a run');
        continue;
      }
      const age = (Date.now() - run.submittedAt.getTime()) / 1000;
      if (state === 'running' && age < this.options.maxRunSec) continue;
      const why =
        state === 'running'
          ? `still running after ${Math.round(age)} s, over the ${this.options.maxRunSec} s limit`
          : `no callback for ${this.options.stallSec} s and the trainer says the call is ${state}${detail ? ` (${detail})` : ''}`;
      if (await this.failAttempt(run, why)) failed++;
    }
    if (await this.deps.runs.anyProcessing()) await this.scheduleWatchdog();
    return { checked: silent.length, failed };
  }

  private async failAttempt(run: TrainingRunRow, error: string): Promise<boolean> {
    const retry = run.attempt < this.options.maxAttempts;
    const patch: TrainingRunPatch = failurePatch(run, error, retry, new Date(), run.stage);
    const updated = await this.deps.runs.update(run.userId, run.id, patch, {
      status: ['processing'],
      attempt: run.attempt,
    });
    if (!updated) return false;
    await this.afterFailure(updated, retry, run.attempt, run.modalCallId);
    return true;
  }

  // ---- evaluation and promotion ----

  /** evaluate-model: scores the completed run and promotes it when it is not worse (autoPromote). */
  async evaluateRun(payload: { userId: string; runId: string }, job: JobRun): Promise<unknown> {
    const { userId, runId } = payload;
    const run = await this.deps.runs.get(userId, runId);
    if (run?.status !== 'completed') return { skipped: true };
    const current = await this.deps.runs.promoted(userId);
    await this.deps.runs.update(userId, runId, { evaluation: { status: 'running' } });
    let outcome: EvaluationOutcome;
    if (this.deps.evaluate) {
      outcome = await this.deps.evaluate({ userId, run, current, signal: job.signal });
    } else {
      // TODO(evaluation): wire the scorer of src/services/training/evaluation.ts here (container)
      outcome = current
        ? {
            promote: false,
            reason: 'no evaluator is configured: promote with force to replace the served model',
          }
        : { promote: true, reason: 'no model is served yet (no evaluator configured)' };
    }
    const evaluated = await this.deps.runs.update(userId, runId, {
      evaluation: { status: 'done', evaluatedAt: new Date().toISOString(), ...outcome },
    });
    if (evaluated) await this.publish(evaluated, 'evaluated');
    if (this.options.autoPromote && outcome.promote) await this.promote(userId, runId, false);
    return { promote: outcome.promote, reason: outcome.reason };
  }

  async evaluationFailed(payload: { userId: string; runId: string }, error: Error): Promise<void> {
    const run = await this.deps.runs.update(payload.userId, payload.runId, {
      evaluation: { status: 'failed', error: error.message, promote: false, reason: 'evaluation failed' },
    });
    if (run) await this.publish(run, 'evaluated');
  }

  /**
   * Copies the run's files into lora/latest/ (manifest last, the previous one kept in history),
   * marks it promoted and tells inference to reload. Without `force`, only when its evaluation
   * said it is not worse than the model served.
   */
  async promote(userId: string, id: string, force: boolean): Promise<TrainingRunRow> {
    const run = await this.get(userId, id);
    if (!run) throw new NotFoundError('TrainingRun', id);
    if (run.status !== 'completed' || !run.artifacts)
      throw new PromotionBlockedError(id, `run ${id} is ${run.status}: only a completed run can be promoted`);
    if (run.promoted) return run;
    const evaluation = run.evaluation as { status?: string; promote?: boolean; reason?: string } | null;
    if (!force && evaluation?.promote !== true)
      throw new PromotionBlockedError(
        id,
        evaluation?.status === 'done'
          ? `the evaluation did not clear it: ${evaluation.reason ?? 'worse than the served model'}`
          : 'the run has not been evaluated yet (promote with force to skip the evaluation)',
      );
    const { blobs } = this.deps;
    const prefix = tenantPrefix(userId);
    const relative = (key: string) => {
      if (!key.startsWith(prefix)) throw new Error(`artifact ${key} is outside the user's tenant`);
      return key.slice(prefix.length);
    };
    // the files must be this attempt's: a zombie attempt's upload would name another
    const configKey = run.artifacts.config;
    if (configKey) {
      const config = JSON.parse((await blobs.get(userId, relative(configKey))).toString('utf8'));
      if (Number(config.attempt) !== run.attempt)
        throw new PromotionBlockedError(
          id,
          `training_config.json is of attempt ${config.attempt}, the run completed attempt ${run.attempt}`,
        );
    }
    const copied: Record<string, string> = {};
    for (const [name, key] of Object.entries(run.artifacts)) {
      const file = relative(key).split('/').pop()!;
      await blobs.copy(userId, relative(key), loraKeys.latestFile(file));
      copied[name] = tenantKey(userId, loraKeys.latestFile(file));
    }
    const gguf = copied.gguf_q8_0 ?? copied.gguf_q4_k_m ?? copied.gguf_f16;
    if (!gguf) throw new PromotionBlockedError(id, 'the run produced no GGUF file');
    const manifest = {
      runId: id,
      userId,
      attempt: run.attempt,
      baseModel: run.baseModel,
      l1Version: run.l1Version,
      gguf,
      artifacts: copied,
      sizes: (run.metrics?.fileBytes as Record<string, number> | undefined) ?? {},
      promotedAt: new Date().toISOString(),
      forced: force,
      evaluation: evaluation ?? null,
    };
    const body = JSON.stringify(manifest, null, 2);
    await blobs.put(userId, loraKeys.history(id), body, { contentType: 'application/json' });
    // last: inference switches to the new model when this object changes
    await blobs.put(userId, loraKeys.latestManifest(), body, { contentType: 'application/json' });
    const promoted = (await this.deps.runs.setPromoted(userId, id)) ?? run;
    await this.deps.trainer.reload(userId).catch((err: unknown) => {
      // inference re-reads the manifest on its own within its TTL
      this.deps.log.warn({ err, userId }, 'inference could not be told to reload the promoted model');
    });
    await this.publish(promoted, 'promoted');
    return promoted;
  }

  /** The manifest served as `twin:{userId}`; null while the base model is. */
  async latestManifest(userId: string): Promise<Record<string, unknown> | null> {
    try {
      return JSON.parse((await this.deps.blobs.get(userId, loraKeys.latestManifest())).toString('utf8'));
    } catch (error) {
      if (error instanceof BlobNotFoundError) return null;
      throw error;
    }
  }

  private async publish(run: TrainingRunRow, event: string): Promise<void> {
    await this.deps.events.publish('training', run.userId, {
      runId: run.id,
      event,
      status: run.status,
      stage: run.stage,
      progress: run.progress,
      attempt: run.attempt,
      step: run.step,
      totalSteps: run.totalSteps,
      loss: run.loss,
      error: run.error,
      promoted: run.promoted,
    });
  }
}

const submitJobId = (runId: string, attempt: number) => `submit-${runId}-${attempt}`;

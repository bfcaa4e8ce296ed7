import * as training from '../resolvers/training.resolver.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { RateLimitedError } from '../services/ports/rate-limits.ts';
import { TrainerUnavailableError } from '../services/ports/trainer.ts';
import type { LossPoint, TrainingRunRow } from '../services/ports/training-repository.ts';
import { TRAINING_STATUSES } from '../services/ports/training-repository.ts';
import { PromotionBlockedError, TrainingAlreadyRunningError } from '../services/training/training.service.ts';
import { NotEnoughMemoryError } from '../services/training-data/training-data.errors.ts';
import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';
import { ErrorInterface } from './errors.ts';

export const TrainingRunStatusEnum = builder.enumType('TrainingRunStatus', {
  description:
    'QUEUED: its data is being prepared (no GPU yet). PROCESSING: on the trainer. COMPLETED: trained ' +
    '(see `evaluation` and `promoted`). FAILED: see `error`. CANCELLED: cancelled by its user.',
  values: upperCaseValues(TRAINING_STATUSES),
});

const LossPointRef = builder.objectRef<LossPoint>('LossPoint').implement({
  description: 'The training loss at one optimizer step.',
  fields: (t) => ({ step: t.exposeInt('step'), loss: t.exposeFloat('loss') }),
});

interface DatasetView {
  counts: Record<string, unknown>;
  generator: { kind: string; name: string } | null;
  l1Version: string | null;
  datasetKey: string | null;
  evalKey: string | null;
}

const TrainingDatasetRef = builder.objectRef<DatasetView>('TrainingDataset').implement({
  description: "The run's L2 data (training_data/L2/{runId}/), made from one L1 memory version.",
  fields: (t) => ({
    train: t.int({ description: 'Training examples.', resolve: (d) => Number(d.counts.train ?? 0) }),
    eval: t.int({ description: 'Held-out evaluation items.', resolve: (d) => Number(d.counts.eval ?? 0) }),
    byType: t.field({
      type: 'JSON',
      description: 'Training examples per type (preference, diversity, selfqa, abstention).',
      resolve: (d) => d.counts.byType ?? {},
    }),
    counts: t.field({
      type: 'JSON',
      description: 'Every count of the data manifest (drops too).',
      resolve: (d) => d.counts,
    }),
    generator: t.string({
      nullable: true,
      description: '`template-v1` (offline) or `llm:{model}`-style name of what wrote the examples.',
      resolve: (d) => (d.generator ? `${d.generator.kind}:${d.generator.name}` : null),
    }),
    l1Version: t.exposeString('l1Version', { nullable: true, description: 'The L1 memory version used.' }),
    datasetKey: t.exposeString('datasetKey', { nullable: true, description: 'Object key of dataset.json.' }),
    evalKey: t.exposeString('evalKey', { nullable: true, description: 'Object key of eval.json.' }),
  }),
});

type EvaluationView = Record<string, unknown> & { status?: string; promote?: boolean; reason?: string };

const TrainingEvaluationRef = builder.objectRef<EvaluationView>('TrainingEvaluation').implement({
  description: 'How the candidate scored against the served model and the base model with retrieval.',
  fields: (t) => ({
    status: t.string({
      description: 'pending, running, done or failed.',
      resolve: (e) => String(e.status ?? 'pending'),
    }),
    promote: t.boolean({
      nullable: true,
      description: 'Whether it is not worse than the model served; null until done.',
      resolve: (e) => (typeof e.promote === 'boolean' ? e.promote : null),
    }),
    reason: t.string({ nullable: true, resolve: (e) => (typeof e.reason === 'string' ? e.reason : null) }),
    scores: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'Scores per model (factAccuracy, abstentionAccuracy, hallucinationRate, recallAt5, mrr …).',
      resolve: (e) => {
        const { status: _s, promote: _p, reason: _r, ...rest } = e;
        return Object.keys(rest).length ? rest : null;
      },
    }),
  }),
});

const TrainingArtifactRef = builder.objectRef<training.ArtifactView>('TrainingArtifact').implement({
  description: 'A file the run produced under lora/{runId}/.',
  fields: (t) => ({
    name: t.exposeString('name', {
      description: '`gguf_q8_0`, `gguf_q4_k_m`, `gguf_f16`, `adapter`, `config` …',
    }),
    key: t.exposeString('key', { description: 'Object key, relative to your storage.' }),
    bytes: t.float({ nullable: true, description: 'Size in bytes (GGUF files).', resolve: (a) => a.bytes }),
  }),
});

export const TrainingRunRef = builder.objectRef<TrainingRunRow>('TrainingRun').implement({
  description: 'One fine-tuning run of the twin on its memory: data, training, evaluation, promotion.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: TrainingRunStatusEnum, resolve: (r) => r.status }),
    stage: t.exposeString('stage', {
      nullable: true,
      description:
        'preparing_data, submitting, starting, loading_data, training, merging, converting, uploading, completed …',
    }),
    progress: t.exposeFloat('progress', { description: '0 to 1; never goes back within an attempt.' }),
    attempt: t.exposeInt('attempt', { description: 'The trainer attempt, from 1 (up to 3).' }),
    step: t.exposeInt('step', { nullable: true }),
    totalSteps: t.exposeInt('totalSteps', { nullable: true }),
    loss: t.exposeFloat('loss', { nullable: true, description: 'The latest training loss.' }),
    lossCurve: t.field({ type: [LossPointRef], resolve: (r) => r.lossCurve }),
    baseModel: t.exposeString('baseModel', { nullable: true }),
    l1Version: t.exposeString('l1Version', {
      nullable: true,
      description: 'The memory version it learns from.',
    }),
    dataset: t.field({
      type: TrainingDatasetRef,
      nullable: true,
      description: 'Null until its data is prepared.',
      resolve: (r) =>
        r.dataset
          ? {
              counts: (r.dataset.counts as Record<string, unknown>) ?? {},
              generator: (r.dataset.generator as DatasetView['generator']) ?? null,
              l1Version: (r.dataset.l1Version as string) ?? r.l1Version,
              datasetKey: (r.dataset.datasetKey as string) ?? null,
              evalKey: (r.dataset.evalKey as string) ?? null,
            }
          : null,
    }),
    evaluation: t.field({
      type: TrainingEvaluationRef,
      nullable: true,
      description: 'Null until training completes.',
      resolve: (r) => r.evaluation as EvaluationView | null,
    }),
    artifacts: t.field({ type: [TrainingArtifactRef], resolve: training.runArtifacts }),
    promoted: t.exposeBoolean('promoted', {
      description: 'Whether this run is the model served as twin:{userId}.',
    }),
    error: t.exposeString('error', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => r.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.startedAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.completedAt }),
    promotedAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.promotedAt }),
  }),
});

builder.objectType(TrainingAlreadyRunningError, {
  name: 'TrainingAlreadyRunning',
  description: 'You already have a run queued or training; cancel it or wait for it.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof TrainingAlreadyRunningError,
  fields: (t) => ({ run: t.field({ type: TrainingRunRef, resolve: (e) => e.run }) }),
});

builder.objectType(NotEnoughMemoryError, {
  name: 'NotEnoughMemory',
  description: 'Memory holds too little to train on; upload more of your own writing first.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotEnoughMemoryError,
  fields: (t) => ({
    measure: t.exposeString('measure', { description: '`chunks` or `examples`.' }),
    have: t.exposeInt('have'),
    need: t.exposeInt('need'),
  }),
});

builder.objectType(TrainerUnavailableError, {
  name: 'TrainerUnavailable',
  description: 'No trainer is configured or reachable; the message says how to get one.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof TrainerUnavailableError,
  fields: () => ({}),
});

builder.objectType(PromotionBlockedError, {
  name: 'PromotionBlocked',
  description: 'The run cannot be promoted (not completed, or its evaluation did not clear it).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof PromotionBlockedError,
  fields: (t) => ({ runId: t.exposeID('runId') }),
});

builder.queryField('trainingRuns', (t) =>
  t.connection({
    type: TrainingRunRef,
    description: 'Your training runs, newest first. Pages forward (at most 50 a page).',
    errors: { types: [InvalidInputError], directResult: true },
    resolve: training.trainingRuns,
  }),
);

builder.queryField('trainingRun', (t) =>
  t.field({
    type: TrainingRunRef,
    nullable: true,
    description: 'One of your runs; null when you have none by that id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: training.trainingRun,
  }),
);

builder.mutationField('startTraining', (t) =>
  t.field({
    type: TrainingRunRef,
    description:
      'Starts a training run on the ready memory version: its data is prepared, then it trains on ' +
      'the trainer; follow it on `trainingStatus`.',
    errors: {
      types: [
        TrainingAlreadyRunningError,
        NotEnoughMemoryError,
        InvalidInputError,
        TrainerUnavailableError,
        RateLimitedError,
      ],
      directResult: true,
    },
    args: {
      hyperparameters: t.arg({
        type: 'JSON',
        description:
          'Overrides: loraR, loraAlpha, loraDropout, learningRate, epochs, maxSteps, batchSize, maxSeqLength.',
      }),
      baseModel: t.arg.string({
        description: 'A Hugging Face model id; the configured base model if unset.',
      }),
    },
    resolve: training.startTraining,
  }),
);

builder.mutationField('cancelTraining', (t) =>
  t.field({
    type: TrainingRunRef,
    description:
      'Cancels a queued or training run (on the trainer too); a finished run comes back unchanged.',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: training.cancelTraining,
  }),
);

builder.mutationField('promoteTrainingRun', (t) =>
  t.field({
    type: TrainingRunRef,
    description:
      'Serves a completed run as twin:{userId}. Only when its evaluation says it is not worse than ' +
      'the model served, unless `force`.',
    errors: { types: [NotFoundError, PromotionBlockedError], directResult: true },
    args: { id: t.arg.id({ required: true }), force: t.arg.boolean({ defaultValue: false }) },
    resolve: training.promoteTrainingRun,
  }),
);

import { wrapErrorIfMatches } from '@pothos/plugin-errors';
import { subscribeTrainingStatus } from '../resolvers/training.resolver.ts';
import { NotFoundError } from '../services/errors.ts';
import { ReplayGapError } from '../services/ports/event-bus.ts';
import type { Sequenced, TrainingStatusEvent } from '../services/ports/events.ts';
import type { TrainingStatus } from '../services/ports/training-repository.ts';
import { builder } from './builder.ts';
import { TrainingRunStatusEnum } from './training-run.ts';

const TrainingStatusRef = builder.objectRef<Sequenced<TrainingStatusEvent>>('TrainingStatus').implement({
  description: 'A change of a training run. `seq` orders events per user; pass it back as `afterSeq`.',
  fields: (t) => ({
    runId: t.exposeID('runId'),
    event: t.exposeString('event', {
      description:
        'queued, preparing, prepared, submitted, started, progress, completed, retrying, failed, cancelled, evaluated, promoted.',
    }),
    status: t.field({ type: TrainingRunStatusEnum, resolve: (e) => e.status as TrainingStatus }),
    stage: t.exposeString('stage', { nullable: true }),
    progress: t.exposeFloat('progress'),
    attempt: t.exposeInt('attempt'),
    step: t.exposeInt('step', { nullable: true }),
    totalSteps: t.exposeInt('totalSteps', { nullable: true }),
    loss: t.exposeFloat('loss', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    promoted: t.exposeBoolean('promoted'),
    seq: t.exposeInt('seq'),
  }),
});

const TrainingStatusEventUnion = builder.unionType('TrainingStatusEvent', {
  types: [TrainingStatusRef, 'ReplayGap', 'NotFound'] as never,
  resolveType: (value: Sequenced<TrainingStatusEvent> | ReplayGapError | NotFoundError) => {
    const code = (value as { code?: string }).code;
    return code === 'REPLAY_GAP' ? 'ReplayGap' : code === 'NOT_FOUND' ? 'NotFound' : 'TrainingStatus';
  },
});

builder.subscriptionField('trainingStatus', (t) =>
  t.field({
    type: TrainingStatusEventUnion,
    description:
      'Changes of one of your training runs (stage, step, loss, attempt, the final state). With `afterSeq`, ' +
      'retained events after it are replayed first, or `ReplayGap` ends the stream. A run not yours is NotFound.',
    args: { runId: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: (_root, args, ctx) => subscribeTrainingStatus(args, ctx) as never,
    resolve: (event) => wrapErrorIfMatches(event, [ReplayGapError, NotFoundError]) as never,
  }),
);

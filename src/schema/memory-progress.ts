import { wrapErrorIfMatches } from '@pothos/plugin-errors';
import { subscribeMemoryProgress } from '../resolvers/memory-progress.resolver.ts';
import { ReplayGapError } from '../services/ports/event-bus.ts';
import type { MemoryProgressEvent, Sequenced } from '../services/ports/events.ts';
import { builder } from './builder.ts';
import { MemoryStageEnum } from './memory-stage.ts';

const MemoryProgressRef = builder.objectRef<Sequenced<MemoryProgressEvent>>('MemoryProgress').implement({
  description:
    'A step of a memory build. `seq` orders events per user; pass it back as `afterSeq` to resume.',
  fields: (t) => ({
    version: t.exposeString('version', { description: 'The version being built.' }),
    stage: t.field({ type: MemoryStageEnum, description: 'The step reached.', resolve: (e) => e.stage }),
    done: t.exposeInt('done', { description: 'Units of this stage done, of `total`.' }),
    total: t.exposeInt('total', { description: 'Units of this stage in all.' }),
    attempt: t.exposeInt('attempt', { description: 'The job attempt, from 1.' }),
    error: t.exposeString('error', { nullable: true, description: 'Set on FAILED.' }),
    seq: t.exposeInt('seq', { description: 'Per-user order; pass the last one seen back as `afterSeq`.' }),
  }),
});

const MemoryProgressEventUnion = builder.unionType('MemoryProgressEvent', {
  types: [MemoryProgressRef, 'ReplayGap'] as never,
  // a wrapped error is a proxy that is no `instanceof` anything until its type is settled
  resolveType: (value: Sequenced<MemoryProgressEvent> | ReplayGapError) =>
    (value as ReplayGapError).code === 'REPLAY_GAP' ? 'ReplayGap' : 'MemoryProgress',
});

builder.subscriptionField('memoryProgress', (t) =>
  t.field({
    type: MemoryProgressEventUnion,
    description:
      "Progress of the caller's memory builds. With `afterSeq`, events retained since that seq are " +
      'replayed first, or `ReplayGap` ends the stream when some are no longer retained.',
    args: { afterSeq: t.arg.int() },
    subscribe: (_root, args, ctx) => subscribeMemoryProgress(args, ctx),
    // graphql-js refuses an Error instance as a value: the errors plugin's proxy carries it
    resolve: (event) => wrapErrorIfMatches(event, [ReplayGapError]) as never,
  }),
);

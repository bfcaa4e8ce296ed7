import { GraphQLError } from 'graphql';
import { subscribeIngestProgress } from '../resolvers/ingest-progress.resolver.ts';
import { ReplayGapError } from '../services/ports/event-bus.ts';
import { INGEST_STAGES, type IngestProgressEvent, type Sequenced } from '../services/ports/events.ts';
import { builder } from './builder.ts';

export const IngestStageEnum = builder.enumType('IngestStage', { values: INGEST_STAGES });

export const IngestProgressRef = builder
  .objectRef<Sequenced<IngestProgressEvent>>('IngestProgress')
  .implement({
    description:
      'A step of a document ingest. `seq` orders events per user; pass it back as `afterSeq` to resume.',
    fields: (t) => ({
      documentId: t.exposeID('documentId'),
      stage: t.field({ type: IngestStageEnum, resolve: (e) => e.stage }),
      done: t.exposeInt('done'),
      total: t.exposeInt('total'),
      attempt: t.exposeInt('attempt'),
      error: t.exposeString('error', { nullable: true }),
      seq: t.exposeInt('seq'),
    }),
  });

builder.subscriptionField('ingestProgress', (t) =>
  t.field({
    type: IngestProgressRef,
    description:
      "Ingest progress of the caller's documents (one document when documentId is given). " +
      'With afterSeq, events retained since that seq are replayed first; when some are no longer ' +
      'retained the subscription ends with an error whose `extensions` are `{ code: "REPLAY_GAP", ' +
      'afterSeq, oldestSeq }`.',
    args: {
      documentId: t.arg.id({ required: false }),
      afterSeq: t.arg.int({ required: false }),
    },
    subscribe: (_root, args, ctx) => subscribeIngestProgress(args, ctx),
    // not a union (that would change every client's selection): the gap is a coded GraphQL error
    resolve: (event) => {
      if (!(event instanceof ReplayGapError)) return event;
      const { code, afterSeq, oldestSeq } = event;
      throw new GraphQLError(event.message, { extensions: { code, afterSeq, oldestSeq } });
    },
  }),
);

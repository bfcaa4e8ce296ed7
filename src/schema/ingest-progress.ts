import { subscribeIngestProgress } from '../resolvers/ingest-progress.resolver.ts';
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
      'With afterSeq, events retained since that seq are replayed first.',
    args: {
      documentId: t.arg.id({ required: false }),
      afterSeq: t.arg.int({ required: false }),
    },
    subscribe: (_root, args, ctx) => subscribeIngestProgress(args, ctx),
    resolve: (event) => event,
  }),
);

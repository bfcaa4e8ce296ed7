import type { GraphQLContext } from '../context.ts';
import type { IngestProgressEvent, Sequenced } from '../services/ports/events.ts';

/** Streams the caller's ingest events, optionally for one document, replaying after `afterSeq`. */
export async function* subscribeIngestProgress(
  args: { documentId?: string | number | null; afterSeq?: number | null },
  ctx: GraphQLContext,
): AsyncGenerator<Sequenced<IngestProgressEvent>> {
  const events = ctx.services.events.subscribe('ingest', ctx.userId, {
    afterSeq: args.afterSeq ?? undefined,
  });
  for await (const event of events) {
    if (!args.documentId || event.documentId === String(args.documentId)) yield event;
  }
}

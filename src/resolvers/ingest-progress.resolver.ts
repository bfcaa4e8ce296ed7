import type { GraphQLContext } from '../context.ts';
import { abortOnReturn, ReplayGapError } from '../services/ports/event-bus.ts';
import type { IngestProgressEvent, Sequenced } from '../services/ports/events.ts';

/**
 * Streams the caller's ingest events, optionally for one document, replaying after `afterSeq`;
 * ends with a ReplayGapError when what it asked for is no longer retained.
 */
export function subscribeIngestProgress(
  args: { documentId?: string | number | null; afterSeq?: number | null },
  ctx: GraphQLContext,
): AsyncIterableIterator<Sequenced<IngestProgressEvent> | ReplayGapError> {
  // a client that leaves releases its listener at once, not at the topic's next event
  return abortOnReturn(async function* (signal) {
    const events = ctx.services.events.subscribe('ingest', ctx.userId, {
      afterSeq: args.afterSeq ?? undefined,
      signal,
    });
    try {
      for await (const event of events) {
        if (!args.documentId || event.documentId === String(args.documentId)) yield event;
      }
    } catch (error) {
      if (!(error instanceof ReplayGapError)) throw error;
      yield error;
    }
  });
}

import type { GraphQLContext } from '../context.ts';
import { abortOnReturn, ReplayGapError } from '../services/ports/event-bus.ts';
import type { MemoryProgressEvent, Sequenced } from '../services/ports/events.ts';

/** Streams the caller's memory build events after `afterSeq`; a gap ends it with ReplayGapError. */
export function subscribeMemoryProgress(
  args: { afterSeq?: number | null },
  ctx: GraphQLContext,
): AsyncIterableIterator<Sequenced<MemoryProgressEvent> | ReplayGapError> {
  // a client that leaves releases its listener at once, not at the topic's next event
  return abortOnReturn(async function* (signal) {
    try {
      yield* ctx.services.events.subscribe('memory', ctx.userId, {
        afterSeq: args.afterSeq ?? undefined,
        signal,
      });
    } catch (error) {
      if (!(error instanceof ReplayGapError)) throw error;
      yield error;
    }
  });
}

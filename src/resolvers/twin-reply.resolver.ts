import type { GraphQLContext } from '../context.ts';
import { abortOnReturn } from '../services/ports/event-bus.ts';

/** The events of one reply, the whole reply unless `afterSeq` says where the caller left off. */
export const subscribeTwinReply = (
  _root: unknown,
  args: { messageId: string | number; afterSeq?: number | null },
  ctx: GraphQLContext,
) =>
  // a client that leaves releases the reply's listener at once, not at its next event
  abortOnReturn((signal) =>
    ctx.services.replies.events(ctx.userId, String(args.messageId), args.afterSeq ?? undefined, signal),
  );

import type { GraphQLContext } from '../context.ts';
import { type RateLimitedAction, RateLimitedError } from '../services/ports/rate-limits.ts';

/** Takes from the caller's quota for `action`, or throws RateLimited (a member of the field's result). */
export async function spendQuota(ctx: GraphQLContext, action: RateLimitedAction, points = 1): Promise<void> {
  const decision = await ctx.services.rateLimits.consume(ctx.userId, action, points);
  if (!decision.ok) throw new RateLimitedError(action, decision.retryAfterMs);
}

import { GraphQLError } from 'graphql';
import type { Context, ServerOptions, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import { variablesTooLarge } from './operation-limits.plugin.ts';

export type WsOptions = Partial<ServerOptions<Record<string, unknown>, Extra>>;

/**
 * Per-connection limits over graphql-ws (DESIGN §10): at most `maxSubscriptions` operations open at
 * once on one socket, and variables no larger than over HTTP. A refusal is an error message for that
 * operation; the connection and its other subscriptions stay.
 */
export function webSocketLimits(
  options: WsOptions,
  limits: { maxSubscriptions: number; maxVariablesBytes: number },
): WsOptions {
  const inner = options.onSubscribe;
  return {
    ...options,
    onSubscribe: async (
      ctx: Context<Record<string, unknown>, Extra>,
      id: string,
      params: SubscribePayload,
    ) => {
      // graphql-ws lists the operation being started in ctx.subscriptions before this runs
      const open = Object.keys(ctx.subscriptions).length;
      if (open > limits.maxSubscriptions)
        return [
          new GraphQLError(
            `At most ${limits.maxSubscriptions} subscriptions may be open on one connection; complete one first.`,
            { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } },
          ),
        ];
      const tooLarge = variablesTooLarge(params.variables, limits.maxVariablesBytes);
      if (tooLarge) return [tooLarge];
      try {
        return await inner?.(ctx, id, params);
      } catch (error) {
        // a limit raised while parsing (max tokens) is the client's error, not the socket's
        if (error instanceof GraphQLError) return [error];
        throw error;
      }
    },
  };
}

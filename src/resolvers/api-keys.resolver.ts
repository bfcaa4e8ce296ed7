import type { GraphQLContext } from '../context.ts';

export const listApiKeys = (_root: unknown, _args: unknown, ctx: GraphQLContext) =>
  ctx.services.apiKeys.list(ctx.userId);

export const createApiKey = (_root: unknown, args: { name: string }, ctx: GraphQLContext) =>
  ctx.services.apiKeys.create(ctx.userId, args.name);

export const revokeApiKey = (_root: unknown, args: { id: string | number }, ctx: GraphQLContext) =>
  ctx.services.apiKeys.revoke(ctx.userId, String(args.id));

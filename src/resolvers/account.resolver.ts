import type { GraphQLContext } from '../context.ts';

export const deleteChat = (_root: unknown, args: { sessionId: string | number }, ctx: GraphQLContext) =>
  ctx.services.account.deleteChat(ctx.userId, String(args.sessionId));

export const deleteAccount = (_root: unknown, args: { confirm: string }, ctx: GraphQLContext) =>
  ctx.services.account.deleteAccount(ctx.userId, args.confirm);

/** The export is a download, not a GraphQL answer: this says where it is and what it holds. */
export const exportMyData = () => ({ path: '/export', contentType: 'application/zip' });

import type { GraphQLContext } from '../context.ts';
import type { ChatSessionView, Citation } from '../services/chat/chat-records.ts';
import { type ConnectionArgs, forwardConnection } from './pagination.ts';
import { spendQuota } from './rate-limits.ts';

export const listChatSessions = (_root: unknown, args: ConnectionArgs, ctx: GraphQLContext) =>
  forwardConnection('chatSessions', args, { default: 20, max: 100 }, (page) =>
    ctx.services.chats.listSessions(ctx.userId, page),
  );

export const getChatSession = (_root: unknown, args: { id: string | number }, ctx: GraphQLContext) =>
  ctx.services.chats.getSession(ctx.userId, String(args.id));

export const startChat = (_root: unknown, args: { title?: string | null }, ctx: GraphQLContext) =>
  ctx.services.chats.startChat(ctx.userId, args.title);

export async function sendMessage(
  _root: unknown,
  args: { sessionId: string | number; content: string },
  ctx: GraphQLContext,
) {
  await spendQuota(ctx, 'reply');
  return ctx.services.chats.sendMessage(ctx.userId, String(args.sessionId), args.content);
}

export async function cancelReply(_root: unknown, args: { messageId: string | number }, ctx: GraphQLContext) {
  const messageId = String(args.messageId);
  const cancelled = await ctx.services.replies.cancel(ctx.userId, messageId);
  return { messageId, cancelled };
}

export const endChat = (_root: unknown, args: { sessionId: string | number }, ctx: GraphQLContext) =>
  ctx.services.chats.endChat(ctx.userId, String(args.sessionId));

export const sessionMessages = async (session: ChatSessionView, _args: unknown, ctx: GraphQLContext) =>
  (await ctx.services.chats.transcript(ctx.userId, session.id))?.messages ?? [];

export const citationText = (source: Citation, _args: unknown, ctx: GraphQLContext) =>
  ctx.services.chunks.load(ctx.userId, source.s3Path);

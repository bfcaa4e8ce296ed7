import { encodeCursor } from '../services/chat/chat.service.ts';
import type { ChatMessageRecord, ChatSessionView, Citation } from '../services/chat/chat-records.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';

export const ChatRoleEnum = builder.enumType('ChatRole', {
  values: { USER: { value: 'user' }, ASSISTANT: { value: 'assistant' } } as const,
});
export const ReplyStatusEnum = builder.enumType('ReplyStatus', {
  values: {
    COMPLETE: { value: 'complete' },
    CANCELLED: { value: 'cancelled' },
    FAILED: { value: 'failed' },
  } as const,
});

export const ReplySourceRef = builder.objectRef<Citation>('ReplySource').implement({
  description: 'A chunk of memory that was in the prompt of a reply, numbered as the reply cites it.',
  fields: (t) => ({
    documentId: t.exposeID('documentId'),
    chunkIndex: t.exposeInt('chunkIndex'),
    s3Path: t.exposeString('s3Path'),
    charStart: t.exposeInt('charStart'),
    charEnd: t.exposeInt('charEnd'),
    page: t.exposeInt('page', { nullable: true }),
    score: t.exposeFloat('score', { description: 'Cosine similarity to the question.' }),
    text: t.string({
      nullable: true,
      description:
        'The passage, read from object storage when asked for (null once its document is deleted).',
      resolve: (s, _args, ctx) => ctx.services.chunks.load(ctx.userId, s.s3Path),
    }),
  }),
});

export const ReplyUsageRef = builder
  .objectRef<{ promptTokens: number; completionTokens: number; totalTokens: number }>('ReplyUsage')
  .implement({
    fields: (t) => ({
      promptTokens: t.exposeInt('promptTokens'),
      completionTokens: t.exposeInt('completionTokens'),
      totalTokens: t.exposeInt('totalTokens'),
    }),
  });

export const ChatMessageRef = builder.objectRef<ChatMessageRecord>('ChatMessage').implement({
  description: "One turn of a chat: the user's message or the twin's reply.",
  fields: (t) => ({
    id: t.exposeID('id'),
    role: t.field({ type: ChatRoleEnum, resolve: (m) => m.role }),
    content: t.exposeString('content'),
    createdAt: t.field({ type: 'DateTime', resolve: (m) => m.createTime }),
    replyTo: t.exposeID('replyTo', { nullable: true, description: 'The user message a reply answers.' }),
    status: t.field({ type: ReplyStatusEnum, nullable: true, resolve: (m) => m.status ?? null }),
    model: t.exposeString('model', { nullable: true }),
    finishReason: t.exposeString('finishReason', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    usage: t.field({ type: ReplyUsageRef, nullable: true, resolve: (m) => m.usage ?? null }),
    citations: t.field({ type: [ReplySourceRef], resolve: (m) => m.citations ?? [] }),
  }),
});

export const ChatSessionRef = builder.objectRef<ChatSessionView>('ChatSession').implement({
  description: 'A conversation with the twin. Its transcript lives in object storage.',
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title', {
      nullable: true,
      description: 'Given at start, else the first message.',
    }),
    summary: t.exposeString('summary', { nullable: true }),
    createdAt: t.field({ type: 'DateTime', resolve: (s) => s.createdAt }),
    messages: t.field({
      type: [ChatMessageRef],
      description: 'Every finished exchange, in order; a reply still streaming is not here yet.',
      resolve: async (s, _args, ctx) =>
        (await ctx.services.chats.transcript(ctx.userId, s.id))?.messages ?? [],
    }),
  }),
});

const SendMessagePayload = builder
  .objectRef<{ userMessage: ChatMessageRecord; assistantMessageId: string; sessionId: string }>(
    'SendMessagePayload',
  )
  .implement({
    fields: (t) => ({
      userMessage: t.field({ type: ChatMessageRef, resolve: (p) => p.userMessage }),
      assistantMessageId: t.exposeID('assistantMessageId', {
        description: 'Subscribe to `twinReply(messageId)` with it to receive the reply.',
      }),
      sessionId: t.exposeID('sessionId'),
    }),
  });

const CancelReplyPayload = builder
  .objectRef<{ messageId: string; cancelled: boolean }>('CancelReplyPayload')
  .implement({
    fields: (t) => ({
      messageId: t.exposeID('messageId'),
      cancelled: t.exposeBoolean('cancelled', { description: 'False when the reply had already ended.' }),
    }),
  });

builder.queryField('chatSessions', (t) =>
  t.connection({
    type: ChatSessionRef,
    description: "The caller's chat sessions, newest first (forward pagination).",
    resolve: async (_root, args, ctx) => {
      if (args.last != null || args.before) throw new InvalidInputError('chatSessions pages forward only');
      const limit = Math.min(Math.max(args.first ?? 20, 1), 100);
      const rows = await ctx.services.chats.listSessions(ctx.userId, {
        after: args.after ?? undefined,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const edges = page.map((node) => ({ cursor: encodeCursor(node), node }));
      return {
        edges,
        pageInfo: {
          hasNextPage: rows.length > limit,
          hasPreviousPage: Boolean(args.after),
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  }),
);

builder.queryField('chatSession', (t) =>
  t.field({
    type: ChatSessionRef,
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.chats.getSession(ctx.userId, String(args.id)),
  }),
);

builder.mutationField('startChat', (t) =>
  t.field({
    type: ChatSessionRef,
    description: 'Opens a chat session; without a title, the first message names it.',
    args: { title: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.chats.startChat(ctx.userId, args.title),
  }),
);

builder.mutationField('sendMessage', (t) =>
  t.field({
    type: SendMessagePayload,
    description: 'Sends a message and starts the reply at once; stream it with `twinReply`.',
    errors: { types: [NotFoundError, InvalidInputError], directResult: true },
    args: { sessionId: t.arg.id({ required: true }), content: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      ctx.services.chats.sendMessage(ctx.userId, String(args.sessionId), args.content),
  }),
);

builder.mutationField('cancelReply', (t) =>
  t.field({
    type: CancelReplyPayload,
    description: 'Stops a reply: it ends with `ReplyDone { finishReason: "cancelled" }`.',
    errors: { types: [NotFoundError], directResult: true },
    args: { messageId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const messageId = String(args.messageId);
      const cancelled = await ctx.services.replies.cancel(ctx.userId, messageId);
      return { messageId, cancelled };
    },
  }),
);

builder.mutationField('endChat', (t) =>
  t.field({
    type: ChatSessionRef,
    description: 'Ends a session now: its transcript is ingested as a memory of kind CHAT.',
    errors: { types: [NotFoundError], directResult: true },
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.chats.endChat(ctx.userId, String(args.sessionId)),
  }),
);

import * as chat from '../resolvers/chat.resolver.ts';
import type { ChatSessionView } from '../services/chat/chat-records.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';
import { ChatMessageRef } from './chat-message.ts';

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
      resolve: chat.sessionMessages,
    }),
  }),
});

builder.queryField('chatSessions', (t) =>
  t.connection({
    type: ChatSessionRef,
    description:
      "The caller's chat sessions, newest first. Pages forward: a bad cursor, `last` or `before` is InvalidInput.",
    errors: { types: [InvalidInputError], directResult: true },
    resolve: chat.listChatSessions,
  }),
);

builder.queryField('chatSession', (t) =>
  t.field({
    type: ChatSessionRef,
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: chat.getChatSession,
  }),
);

builder.mutationField('startChat', (t) =>
  t.field({
    type: ChatSessionRef,
    description: 'Opens a chat session; without a title, the first message names it.',
    args: { title: t.arg.string() },
    resolve: chat.startChat,
  }),
);

builder.mutationField('endChat', (t) =>
  t.field({
    type: ChatSessionRef,
    description: 'Ends a session now: its transcript is ingested as a memory of kind CHAT.',
    errors: { types: [NotFoundError], directResult: true },
    args: { sessionId: t.arg.id({ required: true }) },
    resolve: chat.endChat,
  }),
);

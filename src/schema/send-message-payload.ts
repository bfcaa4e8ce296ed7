import { sendMessage } from '../resolvers/chat.resolver.ts';
import type { ChatMessageRecord } from '../services/chat/chat-records.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';
import { ChatMessageRef } from './chat-message.ts';
import './rate-limited.ts';
import { RateLimitedError } from '../services/ports/rate-limits.ts';

const SendMessagePayloadRef = builder
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

builder.mutationField('sendMessage', (t) =>
  t.field({
    type: SendMessagePayloadRef,
    description: 'Sends a message and starts the reply at once; stream it with `twinReply`.',
    errors: { types: [NotFoundError, InvalidInputError, RateLimitedError], directResult: true },
    args: { sessionId: t.arg.id({ required: true }), content: t.arg.string({ required: true }) },
    resolve: sendMessage,
  }),
);

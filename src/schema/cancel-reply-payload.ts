import { cancelReply } from '../resolvers/chat.resolver.ts';
import { NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';

const CancelReplyPayloadRef = builder
  .objectRef<{ messageId: string; cancelled: boolean }>('CancelReplyPayload')
  .implement({
    fields: (t) => ({
      messageId: t.exposeID('messageId'),
      cancelled: t.exposeBoolean('cancelled', { description: 'False when the reply had already ended.' }),
    }),
  });

builder.mutationField('cancelReply', (t) =>
  t.field({
    type: CancelReplyPayloadRef,
    description: 'Stops a reply: it ends with `ReplyDone { finishReason: "cancelled" }`.',
    errors: { types: [NotFoundError], directResult: true },
    args: { messageId: t.arg.id({ required: true }) },
    resolve: cancelReply,
  }),
);

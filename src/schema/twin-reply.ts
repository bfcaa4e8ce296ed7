import { wrapErrorIfMatches } from '@pothos/plugin-errors';
import { subscribeTwinReply } from '../resolvers/twin-reply.resolver.ts';
import { NotFoundError } from '../services/errors.ts';
import { ReplayGapError } from '../services/ports/event-bus.ts';
import type { ReplyEvent, Sequenced } from '../services/ports/events.ts';
import { builder } from './builder.ts';
import { ReplySourceRef } from './reply-source.ts';
import { ReplyUsageRef } from './reply-usage.ts';

type Of<T extends ReplyEvent['type']> = Sequenced<Extract<ReplyEvent, { type: T }>>;

const seqField = { description: 'Per-reply order; pass the last one seen back as `afterSeq` to resume.' };

const ReplyToken = builder.objectRef<Of<'token'>>('ReplyToken').implement({
  description:
    'A delta of the reply: the tokens the model wrote within a short window (`REPLY_DELTA_WINDOW_MS`), ' +
    'one or several. The deltas in `seq` order, concatenated, are the stored reply exactly; a delta ' +
    'never ends inside a character.',
  fields: (t) => ({
    text: t.exposeString('text', { description: 'The text of one or more consecutive tokens.' }),
    index: t.exposeInt('index', {
      description: '0-based position in the reply of the first token of this delta.',
    }),
    seq: t.exposeInt('seq', seqField),
  }),
});

const ReplyCitations = builder.objectRef<Of<'citations'>>('ReplyCitations').implement({
  description: 'The sources in the prompt, `[n]` being sources[n-1]; sent before the first token.',
  fields: (t) => ({
    sources: t.field({ type: [ReplySourceRef], resolve: (e) => e.sources }),
    seq: t.exposeInt('seq', seqField),
  }),
});

const ReplyDone = builder.objectRef<Of<'done'>>('ReplyDone').implement({
  description: 'The reply ended. `model` is `extractive-fallback` when no chat model is configured.',
  fields: (t) => ({
    model: t.exposeString('model'),
    finishReason: t.exposeString('finishReason', { description: '`stop`, `length` or `cancelled`.' }),
    usage: t.field({ type: ReplyUsageRef, nullable: true, resolve: (e) => e.usage }),
    seq: t.exposeInt('seq', seqField),
  }),
});

const ReplyFailed = builder.objectRef<Of<'failed'>>('ReplyFailed').implement({
  fields: (t) => ({
    error: t.exposeString('error'),
    seq: t.exposeInt('seq', seqField),
  }),
});

const TYPE_NAMES = {
  token: 'ReplyToken',
  citations: 'ReplyCitations',
  done: 'ReplyDone',
  failed: 'ReplyFailed',
};

const TwinReplyEvent = builder.unionType('TwinReplyEvent', {
  types: [ReplyToken, ReplyCitations, ReplyDone, ReplyFailed, 'NotFound', 'ReplayGap'] as never,
  // a wrapped error is a proxy that is no `instanceof` anything until its type is settled
  resolveType: (value: Sequenced<ReplyEvent> | NotFoundError | ReplayGapError) =>
    'type' in value && value.type in TYPE_NAMES
      ? TYPE_NAMES[value.type]
      : (value as ReplayGapError).code === 'REPLAY_GAP'
        ? 'ReplayGap'
        : 'NotFound',
});

builder.subscriptionField('twinReply', (t) =>
  t.field({
    type: TwinReplyEvent,
    description:
      'The tokens of a reply as they are generated, then `ReplyDone` or `ReplyFailed`. Without ' +
      '`afterSeq` the whole reply is sent, however late the subscription; with it, only what follows, ' +
      'or `ReplayGap` when what follows is no longer retained.',
    args: { messageId: t.arg.id({ required: true }), afterSeq: t.arg.int() },
    subscribe: subscribeTwinReply,
    // graphql-js refuses an Error instance as a value: the errors plugin's proxy carries it
    resolve: (event) => wrapErrorIfMatches(event, [NotFoundError, ReplayGapError]) as never,
  }),
);

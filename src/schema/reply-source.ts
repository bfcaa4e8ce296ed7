import { citationText } from '../resolvers/chat.resolver.ts';
import type { Citation } from '../services/chat/chat-records.ts';
import { builder } from './builder.ts';

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
      resolve: citationText,
    }),
  }),
});

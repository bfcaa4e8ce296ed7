import { builder } from './builder.ts';

export const ReplyUsageRef = builder
  .objectRef<{ promptTokens: number; completionTokens: number; totalTokens: number }>('ReplyUsage')
  .implement({
    fields: (t) => ({
      promptTokens: t.exposeInt('promptTokens'),
      completionTokens: t.exposeInt('completionTokens'),
      totalTokens: t.exposeInt('totalTokens'),
    }),
  });

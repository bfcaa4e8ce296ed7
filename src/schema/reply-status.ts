import { builder } from './builder.ts';

export const ReplyStatusEnum = builder.enumType('ReplyStatus', {
  values: {
    COMPLETE: { value: 'complete' },
    CANCELLED: { value: 'cancelled' },
    FAILED: { value: 'failed' },
  } as const,
});

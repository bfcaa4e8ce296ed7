import { builder } from './builder.ts';

export const ChatRoleEnum = builder.enumType('ChatRole', {
  values: { USER: { value: 'user' }, ASSISTANT: { value: 'assistant' } } as const,
});

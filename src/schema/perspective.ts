import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';

export const PerspectiveEnum = builder.enumType('Perspective', {
  description:
    "Whether a document is the person's own words (SUBJECTIVE) or something they read (OBJECTIVE); " +
    'AUTO decides from the text: chats, and first-person writing, are subjective.',
  values: upperCaseValues(['auto', 'subjective', 'objective'] as const),
});

import { MATCH_SIDES } from '../services/documents/fusion.ts';
import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';

export const SearchMatchEnum = builder.enumType('SearchMatch', {
  description:
    'Which side of hybrid search found a hit: the semantic (vector) index, the full-text index, or both.',
  values: upperCaseValues(MATCH_SIDES),
});

import { DOCUMENT_STATUSES } from '../services/ports/document.ts';
import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';

export const DocumentStatusEnum = builder.enumType('DocumentStatus', {
  values: upperCaseValues(DOCUMENT_STATUSES),
});

import { DOCUMENT_KINDS } from '../services/ports/document.ts';
import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';

export const DocumentKindEnum = builder.enumType('DocumentKind', { values: upperCaseValues(DOCUMENT_KINDS) });

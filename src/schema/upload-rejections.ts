import {
  DuplicateDocumentError,
  EmptyDocumentError,
  FileTooLargeError,
  UnsupportedFileTypeError,
} from '../services/documents/documents.errors.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import { ErrorInterface } from './errors.ts';

// The expected rejections of an upload, members of UploadDocumentResult. The upload resolver
// tags each with its `__typename` (an Error instance cannot be a resolver's value).
const tagged = (name: string) => (value: unknown) => (value as { __typename?: string }).__typename === name;

builder.objectType(UnsupportedFileTypeError, {
  name: 'UnsupportedFileType',
  interfaces: [ErrorInterface],
  isTypeOf: tagged('UnsupportedFileType'),
  fields: (t) => ({ filename: t.exposeString('filename') }),
});
builder.objectType(EmptyDocumentError, {
  name: 'EmptyDocument',
  interfaces: [ErrorInterface],
  isTypeOf: tagged('EmptyDocument'),
  fields: (t) => ({ filename: t.exposeString('filename') }),
});
builder.objectType(FileTooLargeError, {
  name: 'FileTooLarge',
  interfaces: [ErrorInterface],
  isTypeOf: tagged('FileTooLarge'),
  fields: (t) => ({ filename: t.exposeString('filename'), limitBytes: t.exposeFloat('limitBytes') }),
});
builder.objectType(DuplicateDocumentError, {
  name: 'DuplicateDocument',
  interfaces: [ErrorInterface],
  isTypeOf: tagged('DuplicateDocument'),
  fields: (t) => ({
    document: t.field({
      type: DocumentRef,
      description: 'The document already holding these bytes.',
      resolve: (e) => e.document,
    }),
  }),
});

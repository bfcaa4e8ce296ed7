import { uploadDocument, uploadDocuments } from '../resolvers/upload.resolver.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import { DocumentKindEnum } from './document-kind.ts';
import './upload-rejections.ts';
import './rate-limited.ts';

const UploadResult = builder.unionType('UploadDocumentResult', {
  types: [
    DocumentRef,
    'UnsupportedFileType',
    'FileTooLarge',
    'DuplicateDocument',
    'EmptyDocument',
    'RateLimited',
  ] as never,
  resolveType: (value) => (value as { __typename?: string }).__typename ?? 'Document',
});

builder.mutationField('uploadDocument', (t) =>
  t.field({
    type: UploadResult,
    description: 'Stores a file and queues its ingest; watch it with `ingestProgress(documentId)`.',
    args: { file: t.arg({ type: 'File', required: true }), kind: t.arg({ type: DocumentKindEnum }) },
    resolve: uploadDocument as never,
  }),
);

builder.mutationField('uploadDocuments', (t) =>
  t.field({
    type: [UploadResult],
    description: 'Several files at once; one result per file, in order.',
    args: { files: t.arg({ type: ['File'], required: true }) },
    resolve: uploadDocuments as never,
  }),
);

import * as documents from '../resolvers/documents.resolver.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import type { DocumentRecord } from '../services/ports/document.ts';
import { builder } from './builder.ts';
import { DocumentChunkRef } from './document-chunk.ts';
import { DocumentKindEnum } from './document-kind.ts';
import { DocumentStatusEnum } from './document-status.ts';
import { PerspectiveEnum } from './perspective.ts';

export const DocumentRef = builder.objectRef<DocumentRecord>('Document').implement({
  description: 'An uploaded document and the state of its ingest into memory.',
  fields: (t) => ({
    id: t.exposeID('id'),
    filename: t.exposeString('filename'),
    contentType: t.exposeString('contentType', { description: 'Sniffed from the bytes, not the name.' }),
    kind: t.field({ type: DocumentKindEnum, resolve: (d) => d.kind }),
    status: t.field({ type: DocumentStatusEnum, resolve: (d) => d.status }),
    processed: t.exposeBoolean('processed'),
    chunkCount: t.exposeInt('chunkCount'),
    bytes: t.float({ resolve: (d) => Number(d.bytes) }),
    contentHash: t.exposeString('contentHash', { description: 'sha256 of the raw bytes.' }),
    embeddingModel: t.exposeString('embeddingModel', { nullable: true }),
    error: t.exposeString('error', { nullable: true }),
    perspective: t.field({
      type: PerspectiveEnum,
      description: "Whether memory treats it as the person's own words; AUTO until set.",
      resolve: (d) => d.perspective,
    }),
    uploadedAt: t.field({ type: 'DateTime', resolve: (d) => d.uploadedAt }),
    chunks: t.connection({
      type: DocumentChunkRef,
      description:
        "The document's chunks in order. Pages forward: a bad cursor, `last` or `before` is InvalidInput.",
      errors: { types: [InvalidInputError], directResult: true },
      resolve: documents.documentChunks,
    }),
  }),
});

builder.queryField('documents', (t) =>
  t.connection({
    type: DocumentRef,
    description:
      "The caller's documents, newest first. Pages forward: a bad cursor, `last` or `before` is InvalidInput.",
    errors: { types: [InvalidInputError], directResult: true },
    args: { status: t.arg({ type: DocumentStatusEnum }), kind: t.arg({ type: DocumentKindEnum }) },
    resolve: documents.listDocuments,
  }),
);

builder.queryField('document', (t) =>
  t.field({
    type: DocumentRef,
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: documents.getDocument,
  }),
);

builder.mutationField('reprocessDocument', (t) =>
  t.field({
    type: DocumentRef,
    description: 'Re-chunks and re-embeds the document, replacing its chunks and vectors.',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: documents.reprocessDocument,
  }),
);

builder.mutationField('cancelIngest', (t) =>
  t.field({
    type: DocumentRef,
    description: 'Stops a queued or running ingest; the document ends FAILED with "ingest cancelled".',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: documents.cancelIngest,
  }),
);

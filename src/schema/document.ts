import { resolveCursorConnection } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import {
  DuplicateDocumentError,
  EmptyDocumentError,
  FileTooLargeError,
  UnsupportedFileTypeError,
  type UploadRejection,
} from '../services/documents/documents.errors.ts';
import type { DocumentsService } from '../services/documents/documents.service.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { DOCUMENT_KINDS, DOCUMENT_STATUSES, type DocumentRecord } from '../services/ports/document.ts';
import { documentKeys } from '../services/tenant-keys.ts';
import { builder } from './builder.ts';
import { ErrorInterface } from './errors.ts';

builder.scalarType('File', {
  description: 'A file sent with the GraphQL multipart request spec.',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value) => {
    // Yoga's multipart parser yields its own File implementation: check the shape, not the class
    const file = value as Partial<File> | null;
    if (typeof file?.stream !== 'function' || typeof file.name !== 'string') {
      throw new GraphQLError('expected a file upload');
    }
    return value as File;
  },
});

const upper = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((v) => [v.toUpperCase(), { value: v }])) as Record<
    Uppercase<T>,
    { value: T }
  >;
export const DocumentStatusEnum = builder.enumType('DocumentStatus', { values: upper(DOCUMENT_STATUSES) });
export const DocumentKindEnum = builder.enumType('DocumentKind', { values: upper(DOCUMENT_KINDS) });

interface ChunkRef {
  documentId: string;
  index: number;
}

const ChunkRefType = builder.objectRef<ChunkRef>('DocumentChunk').implement({
  description: "One chunk of a document's text, read from object storage.",
  fields: (t) => ({
    index: t.exposeInt('index'),
    s3Path: t.string({ resolve: (c) => documentKeys.chunk(c.documentId, c.index) }),
    text: t.string({
      resolve: async (c, _args, ctx) =>
        (await ctx.loaders.objectText.load(documentKeys.chunk(c.documentId, c.index))) ?? '',
    }),
  }),
});

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
    uploadedAt: t.field({ type: 'DateTime', resolve: (d) => d.uploadedAt }),
    chunks: t.connection({
      type: ChunkRefType,
      resolve: (doc, args) =>
        resolveCursorConnection<ChunkRef[]>(
          { args, defaultSize: 20, maxSize: 200, toCursor: (c: ChunkRef) => String(c.index) },
          ({ after, limit, inverted, before }) => {
            if (inverted || before) throw new InvalidInputError('chunks support forward pagination only');
            const from = after === undefined ? 0 : Number(after) + 1;
            if (!Number.isInteger(from) || from < 0) throw new InvalidInputError('invalid cursor');
            const to = Math.min(doc.chunkCount, from + limit);
            return Array.from({ length: Math.max(0, to - from) }, (_, i) => ({
              documentId: doc.id,
              index: from + i,
            }));
          },
        ),
    }),
  }),
});

builder.objectType(UnsupportedFileTypeError, {
  name: 'UnsupportedFileType',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as { __typename?: string }).__typename === 'UnsupportedFileType',
  fields: (t) => ({ filename: t.exposeString('filename') }),
});
builder.objectType(EmptyDocumentError, {
  name: 'EmptyDocument',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as { __typename?: string }).__typename === 'EmptyDocument',
  fields: (t) => ({ filename: t.exposeString('filename') }),
});
builder.objectType(FileTooLargeError, {
  name: 'FileTooLarge',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as { __typename?: string }).__typename === 'FileTooLarge',
  fields: (t) => ({ filename: t.exposeString('filename'), limitBytes: t.exposeFloat('limitBytes') }),
});
builder.objectType(DuplicateDocumentError, {
  name: 'DuplicateDocument',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => (value as { __typename?: string }).__typename === 'DuplicateDocument',
  fields: (t) => ({
    document: t.field({
      type: DocumentRef,
      description: 'The document already holding these bytes.',
      resolve: (e) => e.document,
    }),
  }),
});

const isDocument = (value: unknown): value is DocumentRecord =>
  typeof value === 'object' && value !== null && !(value instanceof Error) && 'contentHash' in value;

const REJECTION_TYPES = new Map<abstract new (...args: never[]) => Error, string>([
  [UnsupportedFileTypeError, 'UnsupportedFileType'],
  [FileTooLargeError, 'FileTooLarge'],
  [DuplicateDocumentError, 'DuplicateDocument'],
  [EmptyDocumentError, 'EmptyDocument'],
]);

// graphql-js treats an Error returned by a resolver as a thrown one, so expected rejections
// travel as plain objects tagged with their GraphQL type.
function asResult(value: DocumentRecord | UploadRejection): unknown {
  if (!(value instanceof Error)) return value;
  for (const [cls, name] of REJECTION_TYPES) {
    if (value instanceof cls) return { ...value, message: value.message, __typename: name };
  }
  throw value;
}

const UploadResult = builder.unionType('UploadDocumentResult', {
  types: [DocumentRef, 'UnsupportedFileType', 'FileTooLarge', 'DuplicateDocument', 'EmptyDocument'] as never,
  resolveType: (value) => (value as { __typename?: string }).__typename ?? 'Document',
});

const uploadOne = async (
  ctx: { userId: string; services: { documents: DocumentsService } },
  file: File,
  kind?: 'document' | 'chat' | null,
) =>
  asResult(
    await ctx.services.documents.upload(ctx.userId, {
      filename: file.name || 'upload',
      body: file.stream(),
      size: file.size,
      kind: kind ?? undefined,
    }),
  );

builder.mutationField('uploadDocument', (t) =>
  t.field({
    type: UploadResult,
    description: 'Stores a file and queues its ingest; watch it with `ingestProgress(documentId)`.',
    args: { file: t.arg({ type: 'File', required: true }), kind: t.arg({ type: DocumentKindEnum }) },
    resolve: (_root, args, ctx) =>
      uploadOne(ctx, args.file, args.kind) as Promise<DocumentRecord | UploadRejection> as never,
  }),
);

builder.mutationField('uploadDocuments', (t) =>
  t.field({
    type: [UploadResult],
    description: 'Several files at once; one result per file, in order.',
    args: { files: t.arg({ type: ['File'], required: true }) },
    resolve: async (_root, args, ctx) => {
      const results: unknown[] = [];
      // one at a time: each upload streams to S3, so parallelism would only multiply memory
      for (const file of args.files) results.push(await uploadOne(ctx, file));
      return results as never;
    },
  }),
);

builder.queryField('documents', (t) =>
  t.connection({
    type: DocumentRef,
    description: "The caller's documents, newest first.",
    args: { status: t.arg({ type: DocumentStatusEnum }), kind: t.arg({ type: DocumentKindEnum }) },
    resolve: (_root, args, ctx) =>
      resolveCursorConnection<Promise<DocumentRecord[]>>(
        {
          args,
          defaultSize: 20,
          maxSize: 100,
          toCursor: (d: DocumentRecord) =>
            Buffer.from(`${d.uploadedAt.toISOString()}|${d.id}`).toString('base64url'),
        },
        ({ after, limit, inverted, before }) => {
          if (inverted || before) throw new InvalidInputError('documents support forward pagination only');
          let cursor: { uploadedAt: Date; id: string } | undefined;
          if (after) {
            const [at, id] = Buffer.from(after, 'base64url').toString('utf8').split('|');
            const uploadedAt = new Date(at ?? '');
            if (!id || Number.isNaN(uploadedAt.getTime())) throw new InvalidInputError('invalid cursor');
            cursor = { uploadedAt, id };
          }
          return ctx.services.documents.list(
            ctx.userId,
            { status: args.status ?? undefined, kind: args.kind ?? undefined },
            limit,
            cursor,
          );
        },
      ),
  }),
);

builder.queryField('document', (t) =>
  t.field({
    type: DocumentRef,
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const doc = await ctx.loaders.document.load(String(args.id));
      if (!doc || !isDocument(doc)) throw new NotFoundError('Document', String(args.id));
      return doc;
    },
  }),
);

const DeletedDocument = builder.objectRef<{ id: string }>('DeletedDocument').implement({
  fields: (t) => ({ id: t.exposeID('id') }),
});

builder.mutationField('deleteDocument', (t) =>
  t.field({
    type: DeletedDocument,
    description: 'Removes the document, its raw file, every chunk object and every vector.',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.documents.delete(ctx.userId, String(args.id)),
  }),
);

builder.mutationField('reprocessDocument', (t) =>
  t.field({
    type: DocumentRef,
    description: 'Re-chunks and re-embeds the document, replacing its chunks and vectors.',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.documents.reprocess(ctx.userId, String(args.id)),
  }),
);

builder.mutationField('cancelIngest', (t) =>
  t.field({
    type: DocumentRef,
    description: 'Stops a queued or running ingest; the document ends FAILED with "ingest cancelled".',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.documents.cancel(ctx.userId, String(args.id)),
  }),
);

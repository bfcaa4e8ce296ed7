import type { GraphQLContext } from '../context.ts';
import type { ChunkRef } from '../services/documents/documents.service.ts';
import { NotFoundError } from '../services/errors.ts';
import type { DocumentKind, DocumentRecord, DocumentStatus } from '../services/ports/document.ts';
import { type ConnectionArgs, forwardConnection } from './pagination.ts';

type ById = { id: string | number };
type DocumentFilter = { status?: DocumentStatus | null; kind?: DocumentKind | null };

export const listDocuments = (_root: unknown, args: ConnectionArgs & DocumentFilter, ctx: GraphQLContext) =>
  forwardConnection('documents', args, { default: 20, max: 100 }, (page) =>
    ctx.services.documents.list(
      ctx.userId,
      { status: args.status ?? undefined, kind: args.kind ?? undefined },
      page,
    ),
  );

export async function getDocument(_root: unknown, args: ById, ctx: GraphQLContext): Promise<DocumentRecord> {
  // through the request's loader: many `document` fields of one operation are one query
  const doc = await ctx.loaders.document.load(String(args.id));
  if (!doc) throw new NotFoundError('Document', String(args.id));
  return doc;
}

export const deleteDocument = (_root: unknown, args: ById, ctx: GraphQLContext) =>
  ctx.services.documents.delete(ctx.userId, String(args.id));

export const reprocessDocument = (_root: unknown, args: ById, ctx: GraphQLContext) =>
  ctx.services.documents.reprocess(ctx.userId, String(args.id));

export const cancelIngest = (_root: unknown, args: ById, ctx: GraphQLContext) =>
  ctx.services.documents.cancel(ctx.userId, String(args.id));

export const documentChunks = (doc: DocumentRecord, args: ConnectionArgs, ctx: GraphQLContext) =>
  forwardConnection('chunks', args, { default: 20, max: 200 }, (page) =>
    ctx.services.documents.chunks(doc, page),
  );

export const chunkText = async (chunk: ChunkRef, _args: unknown, ctx: GraphQLContext) =>
  (await ctx.loaders.objectText.load(chunk.s3Path)) ?? '';

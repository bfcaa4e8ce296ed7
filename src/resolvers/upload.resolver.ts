import type { GraphQLContext } from '../context.ts';
import { arrived } from '../http/streamed-file.ts';
import {
  DuplicateDocumentError,
  EmptyDocumentError,
  FileTooLargeError,
  UnsupportedFileTypeError,
  type UploadRejection,
} from '../services/documents/documents.errors.ts';
import type { DocumentKind, DocumentRecord } from '../services/ports/document.ts';
import { RateLimitedError } from '../services/ports/rate-limits.ts';

const REJECTION_TYPES = new Map<abstract new (...args: never[]) => Error, string>([
  [UnsupportedFileTypeError, 'UnsupportedFileType'],
  [FileTooLargeError, 'FileTooLarge'],
  [DuplicateDocumentError, 'DuplicateDocument'],
  [EmptyDocumentError, 'EmptyDocument'],
  [RateLimitedError, 'RateLimited'],
]);

// graphql-js treats an Error returned by a resolver as a thrown one, so expected rejections
// travel as plain objects tagged with their GraphQL type.
function asResult(value: DocumentRecord | UploadRejection | RateLimitedError): unknown {
  if (!(value instanceof Error)) return value;
  for (const [cls, name] of REJECTION_TYPES) {
    if (value instanceof cls) return { ...value, message: value.message, __typename: name };
  }
  throw value;
}

async function uploadOne(ctx: GraphQLContext, file: File, kind?: DocumentKind | null) {
  // a streamed upload's name is known once its part arrives
  await arrived(file);
  const result = await ctx.services.documents.upload(ctx.userId, {
    filename: file.name || 'upload',
    body: file.stream(),
    size: file.size,
    kind: kind ?? undefined,
  });
  return asResult(result);
}

/** Takes one upload per file from the caller's quota before any file is read; null when it may go on. */
async function refusedByQuota(ctx: GraphQLContext, files: number): Promise<RateLimitedError | null> {
  const decision = await ctx.services.rateLimits.consume(ctx.userId, 'upload', files);
  return decision.ok ? null : new RateLimitedError('upload', decision.retryAfterMs);
}

export async function uploadDocument(
  _root: unknown,
  args: { file: File; kind?: DocumentKind | null },
  ctx: GraphQLContext,
) {
  const refused = await refusedByQuota(ctx, 1);
  return refused ? asResult(refused) : uploadOne(ctx, args.file, args.kind);
}

export async function uploadDocuments(_root: unknown, args: { files: File[] }, ctx: GraphQLContext) {
  const refused = await refusedByQuota(ctx, args.files.length);
  if (refused) return args.files.map(() => asResult(refused));
  const results: unknown[] = [];
  // one at a time: each upload streams to S3, so parallelism would only multiply memory
  for (const file of args.files) results.push(await uploadOne(ctx, file));
  return results;
}

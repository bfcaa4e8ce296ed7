import type { GraphQLResolveInfo } from 'graphql';
import type { GraphQLContext } from '../context.ts';
import type { DocumentRecord } from '../services/ports/document.ts';
import type { VectorHit } from '../services/ports/vector-index.ts';
import { spendQuota } from './rate-limits.ts';
import { selectsField } from './selection.ts';

export type SearchHit = VectorHit & { document: DocumentRecord };

export async function search(
  _root: unknown,
  args: { query: string; limit?: number | null },
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
): Promise<SearchHit[]> {
  await spendQuota(ctx, 'search');
  const hits = await ctx.services.documents.search(ctx.userId, args.query, args.limit ?? 10);
  // start the S3 reads of the hits' text now, beside the documents' rows, instead of after them
  // (the `text` field then finds them in the request's DataLoader)
  if (selectsField(info, 'text')) {
    for (const h of hits) ctx.loaders.objectText.load(h.s3Path).catch(() => {});
  }
  const docs = await Promise.all(hits.map((h) => ctx.loaders.document.load(h.documentId)));
  // a hit whose document was deleted a moment ago is not shown
  return hits.flatMap((h, i) => (docs[i] ? [{ ...h, document: docs[i] }] : []));
}

export const hitText = async (hit: SearchHit, _args: unknown, ctx: GraphQLContext) =>
  (await ctx.loaders.objectText.load(hit.s3Path)) ?? '';

export function embedder(_root: unknown, _args: unknown, ctx: GraphQLContext) {
  const { model, dimensions, kind } = ctx.services.embedder;
  return { model, dimensions, kind };
}

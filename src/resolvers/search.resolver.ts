import type { GraphQLResolveInfo } from 'graphql';
import type { GraphQLContext } from '../context.ts';
import type { RetrievalHit } from '../services/documents/retrieval.service.ts';
import type { DocumentRecord } from '../services/ports/document.ts';
import { spendQuota } from './rate-limits.ts';
import { selectsField } from './selection.ts';

export type SearchHit = RetrievalHit & {
  document: DocumentRecord;
  /** The hit's text, being read since the search returned (when the query selects it). */
  pendingText?: Promise<string | null>;
};

export async function search(
  _root: unknown,
  args: { query: string; limit?: number | null },
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
): Promise<SearchHit[]> {
  await spendQuota(ctx, 'search');
  const { retrieval } = ctx.services;
  const hits = await retrieval.search(ctx.userId, args.query, args.limit ?? 10);
  // start the S3 reads of the hits' text now, beside the documents' rows, instead of after them
  const texts = selectsField(info, 'text')
    ? hits.map((h) => {
        const text = retrieval.text(ctx.userId, h);
        text.catch(() => {});
        return text;
      })
    : [];
  const docs = await Promise.all(hits.map((h) => ctx.loaders.document.load(h.documentId)));
  // a hit whose document was deleted a moment ago, or is being reprocessed, is not shown
  return hits.flatMap((h, i) => {
    const document = docs[i];
    if (document?.status !== 'processed') return [];
    return [{ ...h, document, ...(texts[i] ? { pendingText: texts[i] } : {}) }];
  });
}

export const hitText = async (hit: SearchHit, _args: unknown, ctx: GraphQLContext) =>
  (await (hit.pendingText ?? ctx.services.retrieval.text(ctx.userId, hit))) ?? '';

export function embedder(_root: unknown, _args: unknown, ctx: GraphQLContext) {
  const { model, dimensions, kind, fallbackReason } = ctx.services.embedder;
  return { model, dimensions, kind, fallbackReason };
}

import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import { InvalidInputError } from '../services/errors.ts';
import type { DocumentRecord } from '../services/ports/document.ts';
import type { VectorHit } from '../services/ports/vector-index.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';

type Hit = VectorHit & { document: DocumentRecord };

/** Whether the operation asks for a field of this name anywhere below the current one. */
function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const visit = (set: SelectionSetNode | undefined): boolean =>
    !!set?.selections.some((s) => {
      if (s.kind === Kind.FIELD) return s.name.value === name || visit(s.selectionSet);
      if (s.kind === Kind.INLINE_FRAGMENT) return visit(s.selectionSet);
      return visit(info.fragments[s.name.value]?.selectionSet);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}

const SearchHitRef = builder.objectRef<Hit>('SearchHit').implement({
  description: 'A chunk of memory close to the query, with where it came from.',
  fields: (t) => ({
    score: t.exposeFloat('score', { description: 'Cosine similarity; higher is closer.' }),
    text: t.string({
      resolve: async (h, _args, ctx) => (await ctx.loaders.objectText.load(h.s3Path)) ?? '',
    }),
    document: t.field({ type: DocumentRef, resolve: (h) => h.document }),
    chunkIndex: t.exposeInt('chunkIndex'),
    charStart: t.exposeInt('charStart'),
    charEnd: t.exposeInt('charEnd'),
    page: t.exposeInt('page', { nullable: true }),
    embeddingModel: t.exposeString('embeddingModel'),
  }),
});

const EmbedderInfoRef = builder
  .objectRef<{ model: string; dimensions: number; kind: string }>('EmbedderInfo')
  .implement({
    description: 'The embedding model memory is indexed with.',
    fields: (t) => ({
      model: t.exposeString('model'),
      dimensions: t.exposeInt('dimensions'),
      kind: t.exposeString('kind', { description: '`openai` (any compatible API) or `local`.' }),
      localFallback: t.boolean({
        description: 'True when no embedding API is configured and a lexical hash embedder stands in.',
        resolve: (e) => e.kind === 'local',
      }),
    }),
  });

builder.queryField('embedder', (t) =>
  t.field({
    type: EmbedderInfoRef,
    resolve: (_root, _args, ctx) => {
      const { model, dimensions, kind } = ctx.services.embedder;
      return { model, dimensions, kind };
    },
  }),
);

builder.queryField('search', (t) =>
  t.field({
    type: [SearchHitRef],
    description: "Semantic search over the caller's processed documents.",
    errors: {
      types: [InvalidInputError],
      union: { name: 'SearchResult' },
      result: { name: 'SearchResults' },
    },
    args: { query: t.arg.string({ required: true }), limit: t.arg.int({ required: false }) },
    resolve: async (_root, args, ctx, info) => {
      const hits = await ctx.services.documents.search(ctx.userId, args.query, args.limit ?? 10);
      // start the S3 reads of the hits' text now, beside the documents' rows, instead of after them
      // (the `text` field then finds them in the request's DataLoader)
      if (selectsField(info, 'text')) {
        for (const h of hits) ctx.loaders.objectText.load(h.s3Path).catch(() => {});
      }
      const docs = await Promise.all(hits.map((h) => ctx.loaders.document.load(h.documentId)));
      // a hit whose document was deleted a moment ago is not shown
      return hits.flatMap((h, i) => (docs[i] ? [{ ...h, document: docs[i] }] : []));
    },
  }),
);

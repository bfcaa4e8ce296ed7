import { hitText, type SearchHit, search } from '../resolvers/search.resolver.ts';
import { InvalidInputError } from '../services/errors.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import './rate-limited.ts';
import { RateLimitedError } from '../services/ports/rate-limits.ts';

const SearchHitRef = builder.objectRef<SearchHit>('SearchHit').implement({
  description: 'A chunk of memory close to the query, with where it came from.',
  fields: (t) => ({
    score: t.exposeFloat('score', { description: 'Cosine similarity; higher is closer.' }),
    text: t.string({ resolve: hitText }),
    document: t.field({ type: DocumentRef, resolve: (h) => h.document }),
    chunkIndex: t.exposeInt('chunkIndex'),
    charStart: t.exposeInt('charStart'),
    charEnd: t.exposeInt('charEnd'),
    page: t.exposeInt('page', { nullable: true }),
    embeddingModel: t.exposeString('embeddingModel'),
  }),
});

builder.queryField('search', (t) =>
  t.field({
    type: [SearchHitRef],
    description: "Semantic search over the caller's processed documents.",
    errors: {
      types: [InvalidInputError, RateLimitedError],
      union: { name: 'SearchResult' },
      result: { name: 'SearchResults' },
    },
    args: { query: t.arg.string({ required: true }), limit: t.arg.int({ required: false }) },
    resolve: search,
  }),
);

import { hitText, type SearchHit, search } from '../resolvers/search.resolver.ts';
import { InvalidInputError } from '../services/errors.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import { SearchMatchEnum } from './search-match.ts';
import './rate-limited.ts';
import { RateLimitedError } from '../services/ports/rate-limits.ts';

const SearchHitRef = builder.objectRef<SearchHit>('SearchHit').implement({
  description: 'A chunk of memory close to the query, with where it came from.',
  fields: (t) => ({
    score: t.exposeFloat('score', {
      description:
        'Relevance in [0, 1]: the reciprocal-rank fusion of the semantic and full-text sides (1: first on both). Higher is better; compare within one search.',
    }),
    matchedBy: t.field({ type: SearchMatchEnum, resolve: (h) => h.matchedBy }),
    vectorScore: t.exposeFloat('vectorScore', {
      nullable: true,
      description: 'Cosine similarity to the query, when the semantic side found the hit.',
    }),
    lexicalScore: t.exposeFloat('lexicalScore', {
      nullable: true,
      description: 'Full-text rank, when the full-text side found the hit (compare within one search).',
    }),
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
    description:
      "Hybrid search over the caller's processed documents: semantic (vector) and full-text matches, fused by reciprocal rank.",
    errors: {
      types: [InvalidInputError, RateLimitedError],
      union: { name: 'SearchResult' },
      result: { name: 'SearchResults' },
    },
    args: { query: t.arg.string({ required: true }), limit: t.arg.int({ required: false }) },
    resolve: search,
  }),
);

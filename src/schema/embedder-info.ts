import { embedder } from '../resolvers/search.resolver.ts';
import { builder } from './builder.ts';

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

builder.queryField('embedder', (t) => t.field({ type: EmbedderInfoRef, resolve: embedder }));

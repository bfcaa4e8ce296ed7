import { embedder } from '../resolvers/search.resolver.ts';
import { builder } from './builder.ts';

const EmbedderInfoRef = builder
  .objectRef<{ model: string; dimensions: number; kind: string; fallbackReason?: string }>('EmbedderInfo')
  .implement({
    description: 'The embedding model memory is indexed with.',
    fields: (t) => ({
      model: t.exposeString('model', {
        description:
          'The model tag, `name@dimensions`: `all-MiniLM-L6-v2-int8@384` (the embedded default), `text-embedding-3-small@1536`, `local-hash-v1@384`.',
      }),
      dimensions: t.exposeInt('dimensions'),
      kind: t.exposeString('kind', {
        description:
          '`local-model` (the embedded semantic model, all-MiniLM-L6-v2), `openai` (any compatible API) or `local` (the lexical hash fallback).',
      }),
      localFallback: t.boolean({
        description:
          'True when the lexical hash embedder stands in: search then matches words, not meaning (`fallbackReason` says why).',
        resolve: (e) => e.kind === 'local',
      }),
      fallbackReason: t.string({
        nullable: true,
        description:
          'Why the lexical hash embedder stands in (the model not installed or not loading, or EMBEDDER=local-hash); null otherwise.',
        resolve: (e) => (e.kind === 'local' ? (e.fallbackReason ?? 'EMBEDDER=local-hash') : null),
      }),
    }),
  });

builder.queryField('embedder', (t) => t.field({ type: EmbedderInfoRef, resolve: embedder }));

import * as apiKeys from '../resolvers/api-keys.resolver.ts';
import type { ApiKeyView } from '../services/api-keys.service.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { builder } from './builder.ts';

export const ApiKeyRef = builder.objectRef<ApiKeyView>('ApiKey').implement({
  description:
    'A key a program authenticates with (`Authorization: Bearer <secret>`). Its secret is never shown again.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', {
      description: 'The first characters of the secret, to tell keys apart.',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the key last authenticated a request, to the minute.',
      resolve: (k) => k.lastUsedAt,
    }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
  }),
});

const CreatedApiKeyRef = builder
  .objectRef<{ apiKey: ApiKeyView; secret: string }>('CreatedApiKey')
  .implement({
    fields: (t) => ({
      apiKey: t.field({ type: ApiKeyRef, resolve: (c) => c.apiKey }),
      secret: t.exposeString('secret', {
        description: 'The key itself: shown here once, stored only as a hash.',
      }),
    }),
  });

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKeyRef],
    description: "The caller's API keys, newest first, revoked ones included.",
    resolve: apiKeys.listApiKeys,
  }),
);

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKeyRef,
    description: 'A new API key for programs; the payload is the only place its secret appears.',
    errors: { types: [InvalidInputError], directResult: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: apiKeys.createApiKey,
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKeyRef,
    description: 'Refuses the key from now on; it stays listed with its revocation time.',
    errors: { types: [NotFoundError], directResult: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: apiKeys.revokeApiKey,
  }),
);

import { RateLimitedError } from '../services/ports/rate-limits.ts';
import { builder } from './builder.ts';
import { ErrorInterface } from './errors.ts';

// A per-user quota spent (DESIGN §10): a member of the result of search, sendMessage and uploads.
export const RateLimitedRef = builder.objectType(RateLimitedError, {
  name: 'RateLimited',
  description: 'A per-user quota is spent for now; retry after `retryAfterSeconds`.',
  interfaces: [ErrorInterface],
  // uploads return it as a tagged plain object, like their other rejections
  isTypeOf: (value) =>
    value instanceof RateLimitedError || (value as { __typename?: string }).__typename === 'RateLimited',
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds'),
  }),
});

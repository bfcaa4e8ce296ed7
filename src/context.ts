import type { Services } from './container.ts';
import type { Loaders } from './loaders.ts';

/** Per-request (and per-subscription) context: the caller's tenant and the shared services. */
export interface GraphQLContext {
  userId: string;
  services: Services;
  /** Per-request DataLoaders (batching + caching for this request only). */
  loaders: Loaders;
}

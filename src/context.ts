import type { Services } from './container.ts';
import type { Loaders } from './loaders.ts';
import type { UsersService } from './services/users.service.ts';

/** Per-request (and per-subscription) context: the caller's tenant and the shared services. */
export interface GraphQLContext {
  userId: string;
  services: Services;
  users: UsersService;
  /** Per-request DataLoaders (batching + caching for this request only). */
  loaders: Loaders;
}

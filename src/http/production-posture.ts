import { createHash, timingSafeEqual } from 'node:crypto';
import { useDisableIntrospection } from '@envelop/disable-introspection';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';

type PostureConfig = Pick<Config, 'NODE_ENV' | 'GRAPHIQL_ENABLED' | 'INTROSPECTION_ENABLED'>;

/** GraphiQL is served outside production, and in production only when GRAPHIQL_ENABLED=true. */
export function graphiqlEnabled(config: PostureConfig): boolean {
  return config.GRAPHIQL_ENABLED ?? config.NODE_ENV !== 'production';
}

/** Introspection follows GraphiQL (which needs it for its schema) unless INTROSPECTION_ENABLED says otherwise. */
export function introspectionEnabled(config: PostureConfig): boolean {
  return config.INTROSPECTION_ENABLED ?? graphiqlEnabled(config);
}

/**
 * Refuses `__schema` and `__type` in validation where introspection is off. Envelop's plugin, not
 * Yoga's: Yoga's decides per HTTP request, so operations over graphql-ws would pass unchecked.
 */
export function useIntrospectionPolicy(config: PostureConfig): Plugin {
  return introspectionEnabled(config) ? {} : (useDisableIntrospection() as Plugin);
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * What /readyz tells a caller: the public (load balancers) gets `{ ok }` and the status code; the
 * per-dependency detail, which names backends and their errors, goes only to an operator presenting
 * `Authorization: Bearer <READYZ_TOKEN>`.
 */
export function readinessAnswer<T extends { ok: boolean }>(
  status: T,
  authorization: string | undefined,
  operatorToken: string | undefined,
): T | { ok: boolean } {
  const presented = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (operatorToken && presented && timingSafeEqual(digest(presented), digest(operatorToken))) return status;
  return { ok: status.ok };
}

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { Metrics } from '../services/ports/metrics.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const ROUTES = new Set([
  '/graphql',
  '/healthz',
  '/readyz',
  '/metrics',
  '/export',
  '/v1/chat/completions',
  '/v1/models',
]);
// routes with ids or file names in their paths, labelled by their prefix
const PREFIXES = ['/app', '/modal/callbacks'];

/** A bounded route label: the path when it is one of ours, else `other` (no raw URLs). */
export function routeOf(url: string | undefined): string {
  const path = (url ?? '').split('?')[0]!;
  if (ROUTES.has(path)) return path;
  return PREFIXES.find((p) => path === p || path.startsWith(`${p}/`)) ?? 'other';
}

function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = Buffer.from(authorization?.startsWith('Bearer ') ? authorization.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Who may scrape: with METRICS_TOKEN set, whoever sends it as a bearer token; without it, loopback
 * callers outside production, and nobody in production.
 */
export function metricsAccess(config: Config, req: IncomingMessage): 200 | 401 | 403 {
  if (config.METRICS_TOKEN) return bearerMatches(req.headers.authorization, config.METRICS_TOKEN) ? 200 : 401;
  if (config.NODE_ENV === 'production') return 403;
  return LOOPBACK.has(req.socket.remoteAddress ?? '') ? 200 : 403;
}

export async function serveMetrics(
  config: Config,
  metrics: Metrics,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const access = metricsAccess(config, req);
  if (access !== 200) {
    res
      .writeHead(access, {
        'content-type': 'text/plain',
        ...(access === 401 ? { 'www-authenticate': 'Bearer' } : {}),
      })
      .end(access === 401 ? 'a bearer token is required\n' : 'forbidden\n');
    return;
  }
  const { contentType, body } = await metrics.render();
  res.writeHead(200, { 'content-type': contentType }).end(body);
}

/** Latency of every executed query and mutation, by operation name (subscriptions are long-lived). */
export function useOperationMetrics(metrics: Metrics): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = args.document.definitions.find(
        (d: DefinitionNode) =>
          d.kind === 'OperationDefinition' && (!args.operationName || d.name?.value === args.operationName),
      );
      const type = operation?.kind === 'OperationDefinition' ? operation.operation : 'unknown';
      const name =
        operation?.kind === 'OperationDefinition' ? (operation.name?.value ?? 'anonymous') : 'anonymous';
      return {
        onExecuteDone({ result }) {
          const ok = !('errors' in result && result.errors?.length);
          metrics.graphqlOperation(name, type, ok, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

import { createServer } from 'node:http';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../services/ports/metrics.ts';
import { serveMetrics } from './metrics.ts';

export interface WorkerMetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The worker process's own /metrics (WORKER_METRICS_PORT; 0 picks a free port), on HOST with the
 * API's access rules: METRICS_TOKEN as a bearer token, else loopback outside production. Its
 * registry holds what this process did: queue depth, job outcomes and durations, embedding and
 * chat model calls and tokens, and the process's own metrics.
 */
export async function startWorkerMetrics(
  config: Config,
  metrics: Metrics,
  log: Logger,
  port: number,
): Promise<WorkerMetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/metrics') return void serveMetrics(config, metrics, req, res);
    if (path === '/healthz')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, config.HOST, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  log.info({ port: bound }, `worker metrics on http://${config.HOST}:${bound}/metrics`);
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

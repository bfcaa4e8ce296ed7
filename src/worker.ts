import { ConfigError, describeBackends, loadConfig, reembedsOnStart } from './config.ts';
import { onShutdown } from './lifecycle.ts';

// Worker entry point: `node src/worker.ts` runs the BullMQ workers of every registered job.
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
const { logger } = await import('./logger.ts');
const { createServices } = await import('./container.ts');
const { jobs } = await import('./jobs/registry.ts');
const { startWorkers } = await import('./worker-runtime.ts');
const { startWorkerMetrics } = await import('./http/worker-metrics.ts');

for (const [port, backend] of Object.entries(describeBackends(config))) logger.info(`${port}: ${backend}`);
const services = await createServices(config, logger, jobs);
const metricsServer =
  config.WORKER_METRICS_PORT === undefined
    ? undefined
    : await startWorkerMetrics(config, services.metrics, logger, config.WORKER_METRICS_PORT);
// a worker takes jobs before it is fully started: a SIGTERM from then on must already drain them
const starting = startWorkers(services, jobs);
// documents of another embedding model than this one fill its collection in the background
const reembed = new AbortController();
// what the worker starts after its queues (the watchdog's resume, the re-embedding) must end before
// the services close: a SIGTERM just after start-up otherwise closed the pool under their queries,
// and MikroORM's reconnect then held the shutdown past its timeout (exit 1)
const background: Promise<unknown>[] = [];
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  reembed.abort();
  await (await starting).close(config.SHUTDOWN_TIMEOUT_MS);
  await Promise.allSettled(background);
  await metricsServer?.close();
  await services.close();
});
await starting;
logger.info('workers running');
// training runs left processing by a previous worker are watched again
background.push(
  services.training
    .resumeWatchdog()
    .catch((err: unknown) => logger.warn({ err }, 'training watchdog not resumed')),
);
if (reembedsOnStart(config)) background.push(services.reembedOnStart(reembed.signal));

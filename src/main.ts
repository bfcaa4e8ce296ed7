import { ConfigError, describeBackends, loadConfig, reembedsOnStart } from './config.ts';
import { onShutdown } from './lifecycle.ts';
import { migrateUp } from './services/adapters/postgres/orm.ts';

// API entry point: `node src/main.ts` (add RUN_WORKERS=true or --with-workers for one process).
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
const { createApp } = await import('./server.ts');

const withWorkers = config.RUN_WORKERS || process.argv.includes('--with-workers');
for (const [port, backend] of Object.entries(describeBackends(config))) logger.info(`${port}: ${backend}`);

const services = await createServices(config, logger, jobs);
const applied = await migrateUp(services.orm);
if (applied.length) logger.info({ applied }, 'migrations applied');

const app = createApp(services);
const workers = withWorkers
  ? await (await import('./worker-runtime.ts')).startWorkers(services, jobs)
  : undefined;
const port = await app.listen(config.PORT, config.HOST);
logger.info(
  `GraphQL (GraphiQL, WebSocket and SSE) on http://${config.HOST === '127.0.0.1' ? 'localhost' : config.HOST}:${port}/graphql` +
    (workers ? ' — workers running in this process' : ''),
);
// documents of another embedding model than this one fill its collection in the background
const reembed = new AbortController();
if (workers && reembedsOnStart(config)) void services.reembedOnStart(reembed.signal);
// training runs left processing by a previous worker are watched again (as src/worker.ts does)
if (workers) {
  services.training
    .resumeWatchdog()
    .catch((err: unknown) => logger.warn({ err }, 'training watchdog not resumed'));
}

onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
  reembed.abort();
  await app.close();
  await workers?.close(config.SHUTDOWN_TIMEOUT_MS);
  await services.close();
});

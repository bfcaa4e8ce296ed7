import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { type Config, parseConfig } from '../../src/config.ts';
import { createServices, type Services } from '../../src/container.ts';
import { jobs } from '../../src/jobs/registry.ts';
import { createApp } from '../../src/server.ts';
import type { WorkerPool } from '../../src/services/adapters/bullmq/job-queue.bullmq.ts';
import { issueToken } from '../../src/services/auth.service.ts';
import { startWorkers } from '../../src/worker-runtime.ts';
import { createTestClient, type TestClient } from './client.ts';

export const TEST_AUTH_SECRET = 'test-auth-secret-0123456789';

export interface TestApp {
  url: string;
  wsUrl: string;
  config: Config;
  services: Services;
  tokenFor(userId: string): string;
  client(userId?: string): TestClient;
  newUserId(): string;
  close(): Promise<void>;
}

export interface StartOptions {
  withWorkers?: boolean;
  env?: Record<string, string>;
}

/** Builds the config a test app runs with: the suite's services, and prefixes of its own. */
export function testConfig(env: Record<string, string> = {}): Config {
  const id = randomUUID().slice(0, 8);
  return parseConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    QUEUE_PREFIX: `t${id}`,
    EVENT_PREFIX: `t${id}`,
    AUTH_SECRET: TEST_AUTH_SECRET,
    AUTH_ALLOW_ANONYMOUS: 'false',
    JOB_BACKOFF_MS: '50',
    ...env,
  });
}

/**
 * The environment of an entry point (`src/main.ts`, `src/worker.ts`) run as a child process of a
 * test: the suite's services, the queue and event prefixes and auth secret of `config`, plus `extra`.
 */
export function childEnv(config: Config, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'test',
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    EVENT_PREFIX: config.EVENT_PREFIX,
    AUTH_SECRET: config.AUTH_SECRET,
    ...extra,
  };
}

/** The real API (and optionally the workers) in this process, on a random loopback port. */
export async function startTestApp(options: StartOptions = {}): Promise<TestApp> {
  const config = testConfig(options.env);
  const log = pino({ level: config.LOG_LEVEL });
  const services = await createServices(config, log, jobs);
  const app = createApp(services);
  const port = await app.listen(0, '127.0.0.1');
  let workers: WorkerPool | undefined;
  if (options.withWorkers) workers = await startWorkers(services, jobs);
  const url = `http://127.0.0.1:${port}/graphql`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  const tokenFor = (userId: string) => issueToken(TEST_AUTH_SECRET, userId);
  const clients: TestClient[] = [];
  return {
    url,
    wsUrl,
    config,
    services,
    tokenFor,
    client(userId = `u-${randomUUID()}`) {
      const client = createTestClient({ url, wsUrl, token: tokenFor(userId), userId });
      clients.push(client);
      return client;
    },
    newUserId: () => `u-${randomUUID()}`,
    async close() {
      for (const c of clients) c.dispose();
      await app.close();
      await workers?.close(2000);
      await services.close();
    },
  };
}

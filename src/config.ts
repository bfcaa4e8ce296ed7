import { z } from 'zod';

// Every setting the server and workers read. Unset values fall back to the local services that
// scripts/services.sh starts (DESIGN §9); production points each URL at its managed service.
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  RUN_WORKERS: bool.default(false),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).default(8),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),

  AUTH_SECRET: z.string().min(16).default('dev-only-auth-secret-change-me'),
  AUTH_ALLOW_ANONYMOUS: bool.default(true),
  AUTH_ANONYMOUS_USER_ID: z.string().default('1'),

  DATABASE_URL: z.string().url().default('postgres://twin:twin@127.0.0.1:55432/twin'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(20),

  REDIS_URL: z.string().url().default('redis://127.0.0.1:56379'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('twin'),
  EVENT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('twin'),
  EVENT_REPLAY_TTL_SEC: z.coerce.number().int().min(1).default(600),
  EVENT_REPLAY_MAX: z.coerce.number().int().min(1).default(5000),
  JOB_ATTEMPTS: z.coerce.number().int().min(1).default(3),
  JOB_BACKOFF_MS: z.coerce.number().int().min(0).default(1000),

  VECTOR_BACKEND: z.enum(['weaviate', 'embedded']).default('weaviate'),
  WEAVIATE_URL: z.string().url().default('http://127.0.0.1:58080'),
  WEAVIATE_GRPC_URL: z.string().default('127.0.0.1:55051'),
  WEAVIATE_API_KEY: optionalString,
  WEAVIATE_COLLECTION: z
    .string()
    .regex(/^[A-Z][A-Za-z0-9_]*$/)
    .default('TenantChunk'),
  EMBEDDED_VECTOR_DIR: z.string().default('.data/vectors'),

  S3_ENDPOINT: optionalString,
  S3_REGION: z.string().default('us-west-1'),
  S3_BUCKET: z.string().default('twin-local'),
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: bool.default(false),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString,
});

export type Config = Readonly<z.infer<typeof configSchema>>;

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new ConfigError(`invalid configuration:\n${problems}`);
  }
  return Object.freeze(result.data);
}

let cached: Config | undefined;

// The process-wide config, parsed once; entry points call it first so problems stop start-up.
export function loadConfig(): Config {
  cached ??= parseConfig();
  return cached;
}

/** Describes which backend serves each port, for the start-up log (no secrets). */
export function describeBackends(config: Config): Record<string, string> {
  const host = (u: string) => new URL(u).host;
  return {
    database: `postgres ${host(config.DATABASE_URL)}`,
    queue: `redis ${host(config.REDIS_URL)} prefix ${config.QUEUE_PREFIX}`,
    events: `redis ${host(config.REDIS_URL)} prefix ${config.EVENT_PREFIX}`,
    vectors:
      config.VECTOR_BACKEND === 'weaviate'
        ? `weaviate ${host(config.WEAVIATE_URL)} grpc ${config.WEAVIATE_GRPC_URL}`
        : `embedded exact-search index ${config.EMBEDDED_VECTOR_DIR} (Weaviate not available)`,
    objects: `s3 ${config.S3_ENDPOINT ? host(config.S3_ENDPOINT) : `aws ${config.S3_REGION}`} bucket ${config.S3_BUCKET}`,
  };
}

import { existsSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { TOKEN_DEFAULTS } from './services/auth.service.ts';

// Every setting the server and workers read. Unset values fall back to the local services that
// scripts/services.sh starts (DESIGN §9); production points each URL at its managed service.
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, '1 to 64 of A-Z a-z 0-9 . _ -');

/** The default AUTH_SECRET: fine on a laptop, refused under NODE_ENV=production. */
export const DEVELOPMENT_AUTH_SECRET = 'dev-only-auth-secret-change-me';

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  RUN_WORKERS: bool.default(false),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).default(8),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(65_000),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  // Browser defences and production posture (DESIGN §10; src/http/browser-defences.ts,
  // production-posture.ts). CORS_ORIGINS: exact origins allowed to call the API and open its
  // WebSocket; unset, loopback origins outside production and none in production.
  CORS_ORIGINS: optionalString
    .transform((v) =>
      v
        ?.split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .refine(
      (list) => !list || list.every((o) => URL.canParse(o) && new URL(o).origin === o),
      'comma-separated origins, scheme://host[:port] in lower case, no path and no *',
    ),
  WS_MAX_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  // unset: on outside production, off in production; introspection follows GraphiQL
  GRAPHIQL_ENABLED: bool.optional(),
  INTROSPECTION_ENABLED: bool.optional(),
  // the bearer token that gets /readyz's per-dependency detail; without it /readyz answers { ok } only
  READYZ_TOKEN: optionalString.pipe(z.string().min(16).optional()),
  // the bearer token /metrics requires (src/http/metrics.ts); unset, /metrics answers loopback
  // callers outside production only, and nobody in production
  METRICS_TOKEN: optionalString.pipe(z.string().min(16).optional()),
  // off: any operation; allow: the SDK's persisted ones by hash and any text; only: persisted ones alone
  PERSISTED_OPERATIONS: z.enum(['off', 'allow', 'only']).default('off'),
  // the worker process's own /metrics port (same access rules); unset, it serves none; 0, a free port
  WORKER_METRICS_PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(0).max(65535).optional(),
  ),

  // HS256 access tokens (DESIGN §10): the current key signs and verifies; the previous one, while
  // set, still verifies the tokens it signed, so a rotation logs nobody out
  AUTH_SECRET: z.string().min(16).default(DEVELOPMENT_AUTH_SECRET),
  AUTH_KEY_ID: keyId.default(TOKEN_DEFAULTS.keyId),
  AUTH_PREVIOUS_SECRET: optionalString.pipe(z.string().min(16).optional()),
  AUTH_PREVIOUS_KEY_ID: optionalString.pipe(keyId.optional()),
  AUTH_AUDIENCE: z.string().min(1).default(TOKEN_DEFAULTS.audience),
  AUTH_TOKEN_TTL_SEC: z.coerce
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(TOKEN_DEFAULTS.ttlSec),
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
  JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
  JOB_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(30_000),

  VECTOR_BACKEND: z.enum(['weaviate', 'embedded']).default('weaviate'),
  WEAVIATE_URL: z.string().url().default('http://127.0.0.1:58080'),
  WEAVIATE_GRPC_URL: z.string().default('127.0.0.1:55051'),
  WEAVIATE_API_KEY: optionalString,
  // One collection per embedding model tag (DESIGN §5): WEAVIATE_COLLECTION holds the vectors of
  // WEAVIATE_COLLECTION_MODEL (the default configuration's model, so existing data stays where it
  // is) and prefixes every other's: `TenantChunk_text_embedding_3_small_1536`. A deployment whose
  // TenantChunk holds OpenAI vectors sets WEAVIATE_COLLECTION_MODEL=text-embedding-3-small@1536.
  WEAVIATE_COLLECTION: z
    .string()
    .regex(/^[A-Z][A-Za-z0-9_]*$/)
    .default('TenantChunk'),
  WEAVIATE_COLLECTION_MODEL: z
    .string()
    .regex(/^.+@\d+$/, 'a model tag, name@dimensions')
    .default('local-hash-v1@384'),
  EMBEDDED_VECTOR_DIR: z.string().default('.data/vectors'),
  // Vector writes of concurrent ingests of one tenant are coalesced into batches of up to
  // VECTOR_BATCH_MAX objects (sent after VECTOR_BATCH_LINGER_MS at the latest), at most
  // VECTOR_BATCH_IN_FLIGHT batches per tenant at a time.
  VECTOR_BATCH_MAX: z.coerce.number().int().min(1).max(10_000).default(500),
  VECTOR_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(5),
  VECTOR_BATCH_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(2),
  // HNSW graph build of each Weaviate collection, fixed when the collection is created (a change
  // takes effect on collections created after it only); see BENCHMARKS.md, search.
  VECTOR_HNSW_EF_CONSTRUCTION: z.coerce.number().int().min(4).max(4096).default(128),
  VECTOR_HNSW_MAX_CONNECTIONS: z.coerce.number().int().min(4).max(256).default(32),
  // HNSW search: candidate list size per query (-1: Weaviate's dynamic ef); applied to existing
  // collections too. Recall against latency: BENCHMARKS.md, search.
  VECTOR_HNSW_EF: z.coerce.number().int().min(-1).max(4096).default(-1),
  // Hybrid search (DESIGN §5): reciprocal rank fusion of the vector and full-text sides, each
  // side's weight, the rank constant k, and the candidates each side contributes (BENCHMARKS.md,
  // retrieval and search).
  SEARCH_VECTOR_WEIGHT: z.coerce.number().min(0).max(100).default(1),
  SEARCH_LEXICAL_WEIGHT: z.coerce.number().min(0).max(100).default(1),
  SEARCH_RRF_K: z.coerce.number().min(0).max(10_000).default(60),
  SEARCH_CANDIDATES: z.coerce.number().int().min(1).max(200).default(20),

  S3_ENDPOINT: optionalString,
  S3_REGION: z.string().default('us-west-1'),
  S3_BUCKET: z.string().default('twin-local'),
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: bool.default(false),
  /** Sockets the S3 client keeps open per process (keep-alive); bounds concurrent requests. */
  S3_MAX_SOCKETS: z.coerce.number().int().min(1).max(4096).default(256),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString,

  // L0 ingest (issue 3). EMBEDDER=auto uses OpenAI when OPENAI_API_KEY or OPENAI_BASE_URL is set,
  // else the embedded model all-MiniLM-L6-v2 when scripts/embedder-model.sh has installed it, else
  // the lexical hash embedder (embedderChoice). `local` is the former name of `local-hash`.
  EMBEDDER: z
    .enum(['auto', 'openai', 'local-model', 'local-hash', 'local'])
    .default('auto')
    .transform((v) => (v === 'local' ? 'local-hash' : v)),
  // The installed model (default ~/.cache/digital-twin/models/all-MiniLM-L6-v2), its ONNX Runtime
  // threads (0: one per core) and precision (int8: faster, cosine ≥ 0.994 to fp32; BENCHMARKS.md).
  EMBEDDER_MODEL_DIR: optionalString,
  EMBEDDER_THREADS: z.coerce.number().int().min(0).max(64).default(0),
  EMBEDDER_PRECISION: z.enum(['int8', 'fp32']).default('int8'),
  EMBEDDER_OFF_LOOP: bool.default(true),
  EMBEDDING_MODEL: z.string().default('text-embedding-3-small'),
  EMBEDDING_DIMENSIONS: z.coerce.number().int().min(8).optional(),
  EMBEDDING_BATCH_SIZE: z.coerce.number().int().min(1).max(2048).default(256),
  // Workers re-embed, at start, the documents embedded with another model than the current one
  // (unset: yes, except under NODE_ENV=test, where test processes share one database).
  REEMBED_ON_START: bool.optional(),
  UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(50 * 1024 * 1024),
  // files one upload request may carry (DESIGN §10); a request's body is capped at this many files
  UPLOAD_MAX_FILES: z.coerce.number().int().min(1).max(1000).default(10),
  INGEST_MAX_UNCOMPRESSED_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(200 * 1024 * 1024),
  // ingest's extraction and sentence splitting run in worker threads (DESIGN §10): their count,
  // (0: on the calling thread, no limits), and the limits that make a hostile file kill only its
  // own thread
  EXTRACT_THREADS: z.coerce
    .number()
    .int()
    .min(0)
    .default(Math.max(1, availableParallelism() - 1)),
  EXTRACT_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
  EXTRACT_MAX_HEAP_MB: z.coerce.number().int().min(32).default(1024),
  EXTRACT_NICE: z.coerce.number().int().min(0).max(19).default(10),
  CHUNK_MIN_TOKENS: z.coerce.number().int().min(1).default(64),
  CHUNK_MAX_TOKENS: z.coerce.number().int().min(8).default(400),

  // L1 memory (MEMORY-TRAINING.md A). MEMORY_LLM=auto labels, extracts and writes the bio with the
  // OpenAI-compatible chat server when one is configured (CHAT_BACKEND openai), else offline.
  MEMORY_LLM: z.enum(['auto', 'openai', 'off']).default('auto'),
  MEMORY_LLM_MODEL: optionalString,
  MEMORY_DEBOUNCE_MS: z.coerce.number().int().min(0).default(30_000),
  MEMORY_SEED: z.coerce.number().int().min(0).default(42),
  MEMORY_ENTITY_BUDGET: z.coerce.number().int().min(0).default(5000),
  MEMORY_LLM_CONCURRENCY: z.coerce.number().int().min(1).default(4),
  MEMORY_COMPUTE_THREADS: z.coerce.number().int().min(1).default(1),
  // L2 training data (MEMORY-TRAINING.md B): the cap on examples, and the least memory worth a run
  // (usable chunks before generating, training examples after): below either, NotEnoughMemory
  L2_MAX_EXAMPLES: z.coerce.number().int().min(10).default(1000),
  L2_MIN_CHUNKS: z.coerce.number().int().min(1).default(6),
  L2_MIN_EXAMPLES: z.coerce.number().int().min(1).default(20),

  // Chat (issue 5). CHAT_BACKEND=auto: Modal when MODAL_INFERENCE_URL is set, else an
  // OpenAI-compatible server when CHAT_BASE_URL / CHAT_API_KEY / OPENAI_API_KEY is set, else extractive.
  CHAT_BACKEND: z.enum(['auto', 'openai', 'modal', 'extractive']).default('auto'),
  CHAT_BASE_URL: optionalString,
  CHAT_API_KEY: optionalString,
  CHAT_MODEL: z.string().default('gpt-4o-mini'),
  MODAL_INFERENCE_URL: optionalString,
  MODAL_TOKEN: optionalString,

  // Training (issue 12; MEMORY-TRAINING.md C). MODAL_TRAIN_URL: modal/'s web endpoint, deployed on
  // Modal or its local mode; the same HTTP either way. Unset,
  // startTraining answers TrainerUnavailable saying how to get one. MODAL_TRAIN_TOKEN (else
  // MODAL_TOKEN) is its TWIN_API_TOKEN; MODAL_CALLBACK_SECRET its TWIN_CALLBACK_SECRET
  // (contracts/README.md). The local trainer: `bash modal/scripts/local-trainer.sh`.
  MODAL_TRAIN_URL: optionalString.pipe(z.string().url().optional()),
  MODAL_TRAIN_TOKEN: optionalString,
  MODAL_CALLBACK_SECRET: optionalString.pipe(z.string().min(16).optional()),
  // the URL the trainer reaches this API at; unset, http://HOST:PORT
  TRAINING_CALLBACK_BASE_URL: optionalString.pipe(z.string().url().optional()),
  TRAINING_BASE_MODEL: optionalString,
  // JSON object of hyperparameters every run starts from (loraR, epochs, maxSteps, learningRate …)
  TRAINING_HYPERPARAMETERS: optionalString,
  TRAINING_QUANTIZATIONS: z.string().default('q8_0,q4_k_m'),
  TRAINING_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  TRAINING_BACKOFF_MS: z.coerce.number().int().min(0).default(30_000),
  // an attempt silent this long is asked about; one running longer than TRAINING_MAX_RUN_SEC is failed
  TRAINING_STALL_SEC: z.coerce.number().int().min(1).default(900),
  TRAINING_MAX_RUN_SEC: z.coerce.number().int().min(60).default(11_400),
  TRAINING_WATCHDOG_INTERVAL_MS: z.coerce.number().int().min(200).default(60_000),
  TRAINING_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  // promote a run whose evaluation says it is not worse than the model served
  TRAINING_AUTO_PROMOTE: bool.default(true),
  // eval.json items each model answers before a promotion (MEMORY-TRAINING.md D: ≤100, ≤30 in CI)
  TRAINING_EVAL_MAX_ITEMS: z.coerce.number().int().min(1).max(1000).default(100),
  CHAT_TOP_K: z.coerce.number().int().min(0).max(50).default(5),
  CHAT_MIN_SCORE: z.coerce.number().min(-1).max(1).default(0.2),
  CHAT_CONTEXT_TOKENS: z.coerce.number().int().min(0).default(2000),
  CHAT_HISTORY_TOKENS: z.coerce.number().int().min(0).default(1000),
  CHAT_MAX_TOKENS: z.coerce.number().int().min(1).default(512),
  CHAT_TEMPERATURE: z.coerce.number().min(0).max(2).default(0.7),
  CHAT_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
  CHAT_IDLE_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .default(30 * 60_000),
  CHAT_CONCURRENCY: z.coerce.number().int().min(1).default(256),
  CHAT_MESSAGE_MAX_CHARS: z.coerce.number().int().min(1).default(16_000),
  // Reply tokens that follow one another within this window are published as one delta
  // (DESIGN §7; BENCHMARKS.md § chat); 0 publishes every token as it comes.
  REPLY_DELTA_WINDOW_MS: z.coerce.number().int().min(0).max(1000).default(40),

  // Cost limits (DESIGN §10; src/http/operation-limits.plugin.ts, ws-limits.ts): refused at
  // validation, before any resolver runs. The defaults leave room for the SDK's operations and
  // GraphiQL's introspection (not counted by depth or cost).
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(10),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(50),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(5000),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(5000),
  GRAPHQL_MAX_VARIABLES_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024),
  WS_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).default(50),
  // Per-user quotas in Redis: points per RATE_LIMIT_WINDOW_SEC (an upload is one point per file)
  RATE_LIMIT_WINDOW_SEC: z.coerce.number().int().min(1).default(60),
  RATE_LIMIT_SEARCH: z.coerce.number().int().min(1).default(60),
  RATE_LIMIT_REPLIES: z.coerce.number().int().min(1).default(20),
  RATE_LIMIT_UPLOADS: z.coerce.number().int().min(1).default(60),
  // training runs cost GPU time: their quota has a window of its own, a day by default
  RATE_LIMIT_TRAINING: z.coerce.number().int().min(1).default(20),
  RATE_LIMIT_TRAINING_WINDOW_SEC: z.coerce.number().int().min(1).default(86_400),
});

export type Config = Readonly<z.infer<typeof configSchema>>;

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new ConfigError(`invalid configuration:\n${problems}`);
  }
  const problems = consistencyProblems(result.data);
  if (problems.length)
    throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return Object.freeze(result.data);
}

/** What each value allows alone but not together, or not in production (DESIGN §10). */
function consistencyProblems(c: z.infer<typeof configSchema>): string[] {
  const problems: string[] = [];
  if (Boolean(c.AUTH_PREVIOUS_SECRET) !== Boolean(c.AUTH_PREVIOUS_KEY_ID))
    problems.push('AUTH_PREVIOUS_SECRET and AUTH_PREVIOUS_KEY_ID are set together or not at all');
  if (c.AUTH_PREVIOUS_KEY_ID && c.AUTH_PREVIOUS_KEY_ID === c.AUTH_KEY_ID)
    problems.push('AUTH_PREVIOUS_KEY_ID must differ from AUTH_KEY_ID: the key id tells the two keys apart');
  if (c.NODE_ENV === 'production') {
    if (c.AUTH_SECRET === DEVELOPMENT_AUTH_SECRET)
      problems.push('AUTH_SECRET: the development secret is public; set a random secret in production');
    if (c.AUTH_ALLOW_ANONYMOUS)
      problems.push(
        'AUTH_ALLOW_ANONYMOUS: anonymous access is for development only; set it to false in production',
      );
  }
  return problems;
}

let cached: Config | undefined;

// The process-wide config, parsed once; entry points call it first so problems stop start-up.
export function loadConfig(): Config {
  cached ??= parseConfig();
  return cached;
}

/**
 * Where scripts/embedder-model.sh installs the embedded model (EMBEDDER_MODEL_DIR overrides); it
 * writes manifest.json last, so its presence means the model is whole.
 */
export function embedderModelDir(config: Config): string {
  return config.EMBEDDER_MODEL_DIR ?? join(homedir(), '.cache', 'digital-twin', 'models', 'all-MiniLM-L6-v2');
}

/** Which embedder EMBEDDER picks, and why the lexical hash embedder stands in when it does. */
export function embedderChoice(config: Config): {
  kind: 'openai' | 'local-model' | 'local-hash';
  reason?: string;
} {
  if (config.EMBEDDER === 'openai') return { kind: 'openai' };
  if (config.EMBEDDER === 'local-model') return { kind: 'local-model' };
  if (config.EMBEDDER === 'local-hash') return { kind: 'local-hash', reason: 'EMBEDDER=local-hash' };
  if (config.OPENAI_API_KEY || config.OPENAI_BASE_URL) return { kind: 'openai' };
  if (embedderModelInstalled(config)) return { kind: 'local-model' };
  return {
    kind: 'local-hash',
    reason: `the embedding model is not installed in ${embedderModelDir(config)} (scripts/embedder-model.sh, run by npm start, failed or did not run)`,
  };
}

export function embedderModelInstalled(config: Config): boolean {
  return existsSync(join(embedderModelDir(config), 'manifest.json'));
}

function describeEmbedder(config: Config): string {
  const choice = embedderChoice(config);
  if (choice.kind === 'openai')
    return `openai-compatible ${config.OPENAI_BASE_URL ? new URL(config.OPENAI_BASE_URL).host : 'api.openai.com'} model ${config.EMBEDDING_MODEL}`;
  if (choice.kind === 'local-model')
    return `embedded all-MiniLM-L6-v2 (${config.EMBEDDER_PRECISION}, ONNX Runtime) from ${embedderModelDir(config)}`;
  return `LEXICAL HASH EMBEDDER, no semantic search: ${choice.reason}`;
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
    embeddings: describeEmbedder(config),
    chat: describeChatBackend(config),
    training: config.MODAL_TRAIN_URL
      ? `trainer ${new URL(config.MODAL_TRAIN_URL).host}${config.MODAL_CALLBACK_SECRET ? '' : ' (MODAL_CALLBACK_SECRET unset: runs refused)'}`
      : 'none (MODAL_TRAIN_URL unset: startTraining answers TrainerUnavailable)',
    objects: `s3 ${config.S3_ENDPOINT ? host(config.S3_ENDPOINT) : `aws ${config.S3_REGION}`} bucket ${config.S3_BUCKET}`,
  };
}

/** Whether a starting worker re-embeds documents of another embedding model (REEMBED_ON_START). */
export function reembedsOnStart(config: Config): boolean {
  return config.REEMBED_ON_START ?? config.NODE_ENV !== 'test';
}

export type ChatBackend = 'openai' | 'modal' | 'extractive';

/** Which chat model adapter config selects (CHAT_BACKEND=auto picks the first one configured). */
export function chatBackendOf(config: Config): ChatBackend {
  if (config.CHAT_BACKEND !== 'auto') return config.CHAT_BACKEND;
  if (config.MODAL_INFERENCE_URL) return 'modal';
  if (config.CHAT_BASE_URL || config.CHAT_API_KEY || config.OPENAI_API_KEY) return 'openai';
  return 'extractive';
}

function describeChatBackend(config: Config): string {
  const backend = chatBackendOf(config);
  if (backend === 'modal')
    return `modal inference ${config.MODAL_INFERENCE_URL ? new URL(config.MODAL_INFERENCE_URL).host : '(unset)'} model twin:{userId}`;
  if (backend === 'openai') {
    const url = config.CHAT_BASE_URL ?? config.OPENAI_BASE_URL;
    return `openai-compatible ${url ? new URL(url).host : 'api.openai.com'} model ${config.CHAT_MODEL}`;
  }
  return 'extractive fallback (no chat model configured: replies quote retrieved passages)';
}

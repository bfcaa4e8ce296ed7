import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config.ts';
import type { Jobs } from './jobs/registry.ts';
import type { Logger } from './logger.ts';
import type { BlobStore } from './services/ports/blob-store.ts';
import type { ChatModel } from './services/ports/chat-model.ts';
import type { ChatTurnCache } from './services/ports/chat-turns.ts';
import type { Embedder } from './services/ports/embedder.ts';
import type { EventBus } from './services/ports/event-bus.ts';
import type { JobQueue } from './services/ports/job-queue.ts';
import type { Locks } from './services/ports/lock.ts';
import type { VectorIndex } from './services/ports/vector-index.ts';

// Everything a resolver or job needs, built once per process from config. Adapters are imported
// only when chosen, so a process never loads an SDK it does not use.
export interface Services {
  config: Config;
  log: Logger;
  orm: MikroORM;
  blobs: BlobStore;
  vectors: VectorIndex;
  embedder: Embedder;
  events: EventBus;
  queue: JobQueue<Jobs>;
  chatModel: ChatModel;
  chatTurns: ChatTurnCache;
  locks: Locks;
  close(): Promise<void>;
}

export async function createBlobStore(config: Config): Promise<BlobStore> {
  const { S3BlobStore } = await import('./services/adapters/s3/blob-store.s3.ts');
  const store = new S3BlobStore({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    bucket: config.S3_BUCKET,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    maxSockets: config.S3_MAX_SOCKETS,
  });
  await store.ensureBucket();
  return store;
}

export async function createVectorIndex(config: Config): Promise<VectorIndex> {
  if (config.VECTOR_BACKEND === 'embedded') {
    const { EmbeddedVectorIndex } = await import('./services/adapters/local/vector-index.embedded.ts');
    return new EmbeddedVectorIndex(config.EMBEDDED_VECTOR_DIR);
  }
  const { WeaviateVectorIndex } = await import('./services/adapters/weaviate/vector-index.weaviate.ts');
  return WeaviateVectorIndex.connect({
    url: config.WEAVIATE_URL,
    grpcUrl: config.WEAVIATE_GRPC_URL,
    apiKey: config.WEAVIATE_API_KEY,
    collection: config.WEAVIATE_COLLECTION,
    hnsw: {
      efConstruction: config.VECTOR_HNSW_EF_CONSTRUCTION,
      maxConnections: config.VECTOR_HNSW_MAX_CONNECTIONS,
    },
    batch: {
      maxBatch: config.VECTOR_BATCH_MAX,
      lingerMs: config.VECTOR_BATCH_LINGER_MS,
      maxInFlight: config.VECTOR_BATCH_IN_FLIGHT,
    },
  });
}

/** OpenAI (or a compatible server) when configured, else the local deterministic fallback. */
export async function createEmbedder(config: Config): Promise<Embedder> {
  const useOpenAI =
    config.EMBEDDER === 'openai' ||
    (config.EMBEDDER === 'auto' && Boolean(config.OPENAI_API_KEY || config.OPENAI_BASE_URL));
  if (!useOpenAI) {
    const { LocalHashEmbedder } = await import('./services/adapters/local/embedder.local.ts');
    return new LocalHashEmbedder(config.EMBEDDING_DIMENSIONS);
  }
  const { OpenAIEmbedder } = await import('./services/adapters/openai/embedder.openai.ts');
  return new OpenAIEmbedder({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    model: config.EMBEDDING_MODEL,
    dimensions: config.EMBEDDING_DIMENSIONS,
    batchSize: config.EMBEDDING_BATCH_SIZE,
    maxRetries: 5,
  });
}

export async function createServices(config: Config, log: Logger): Promise<Services> {
  const [{ createOrm }, { RedisEventBus }, { BullJobQueue }, { jobs }] = await Promise.all([
    import('./services/adapters/postgres/orm.ts'),
    import('./services/adapters/redis/event-bus.redis.ts'),
    import('./services/adapters/bullmq/job-queue.bullmq.ts'),
    import('./jobs/registry.ts'),
  ]);
  const [orm, blobs, vectors, embedder] = await Promise.all([
    createOrm(config.DATABASE_URL, config.DATABASE_POOL_MAX),
    createBlobStore(config),
    createVectorIndex(config),
    createEmbedder(config),
  ]);
  const [{ createChatModel }, { RedisLocks }, { RedisChatTurnCache }] = await Promise.all([
    import('./services/ports/chat-model.ts'),
    import('./services/adapters/redis/lock.redis.ts'),
    import('./services/adapters/redis/chat-turns.redis.ts'),
  ]);
  const chatModel = await createChatModel(config);
  const locks = new RedisLocks(config.REDIS_URL, config.QUEUE_PREFIX);
  const chatTurns = new RedisChatTurnCache({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX });
  let lastRedisError = 0;
  const redisError = (err: Error) => {
    // reconnect attempts repeat quickly while Redis is down: one line per 5 s is enough
    if (Date.now() - lastRedisError > 5000)
      log.warn({ err: err.message }, 'redis connection error; reconnecting');
    lastRedisError = Date.now();
  };
  const events = new RedisEventBus({
    redisUrl: config.REDIS_URL,
    prefix: config.EVENT_PREFIX,
    replayTtlSec: config.EVENT_REPLAY_TTL_SEC,
    replayMax: config.EVENT_REPLAY_MAX,
    onError: redisError,
  });
  const queue = new BullJobQueue(jobs, {
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
    onError: redisError,
  });
  return {
    config,
    log,
    orm,
    blobs,
    vectors,
    embedder,
    events,
    // TypeScript cannot relate enqueue's generic signatures once the registry holds several jobs
    queue,
    chatModel,
    chatTurns,
    locks,
    async close() {
      await Promise.allSettled([
        queue.close(),
        events.close(),
        vectors.close(),
        orm.close(),
        locks.close(),
        chatTurns.close(),
      ]);
      blobs.close();
    },
  };
}

import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.ts';
import type { Jobs } from '../jobs/registry.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from './blob-store.ts';
import type { EventBus } from './event-bus.ts';
import type { JobQueue } from './job-queue.ts';
import type { VectorIndex } from './vector-index.ts';

// Everything a resolver or job needs, built once per process from config. Adapters are imported
// only when chosen, so a process never loads an SDK it does not use.
export interface Services {
  config: Config;
  log: Logger;
  orm: MikroORM;
  blobs: BlobStore;
  vectors: VectorIndex;
  events: EventBus;
  queue: JobQueue<Jobs>;
  close(): Promise<void>;
}

export async function createBlobStore(config: Config): Promise<BlobStore> {
  const { S3BlobStore } = await import('./blob-store.s3.ts');
  const store = new S3BlobStore({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    bucket: config.S3_BUCKET,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
  });
  await store.ensureBucket();
  return store;
}

export async function createVectorIndex(config: Config): Promise<VectorIndex> {
  if (config.VECTOR_BACKEND === 'embedded') {
    const { EmbeddedVectorIndex } = await import('./vector-index.embedded.ts');
    return new EmbeddedVectorIndex(config.EMBEDDED_VECTOR_DIR);
  }
  const { WeaviateVectorIndex } = await import('./vector-index.weaviate.ts');
  return WeaviateVectorIndex.connect({
    url: config.WEAVIATE_URL,
    grpcUrl: config.WEAVIATE_GRPC_URL,
    apiKey: config.WEAVIATE_API_KEY,
    collection: config.WEAVIATE_COLLECTION,
  });
}

export async function createServices(config: Config, log: Logger): Promise<Services> {
  const [{ createOrm }, { RedisEventBus }, { BullJobQueue }, { jobs }] = await Promise.all([
    import('../db/orm.ts'),
    import('./event-bus.redis.ts'),
    import('./job-queue.bullmq.ts'),
    import('../jobs/registry.ts'),
  ]);
  const [orm, blobs, vectors] = await Promise.all([
    createOrm(config.DATABASE_URL, config.DATABASE_POOL_MAX),
    createBlobStore(config),
    createVectorIndex(config),
  ]);
  const events = new RedisEventBus({
    redisUrl: config.REDIS_URL,
    prefix: config.EVENT_PREFIX,
    replayTtlSec: config.EVENT_REPLAY_TTL_SEC,
    replayMax: config.EVENT_REPLAY_MAX,
  });
  const queue = new BullJobQueue(jobs, {
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
  });
  return {
    config,
    log,
    orm,
    blobs,
    vectors,
    events,
    queue,
    async close() {
      await Promise.allSettled([queue.close(), events.close(), vectors.close(), orm.close()]);
      blobs.close();
    },
  };
}

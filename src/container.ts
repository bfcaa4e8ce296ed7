import {
  type Config,
  chatBackendOf,
  embedderChoice,
  embedderModelDir,
  embedderModelInstalled,
} from './config.ts';
import type { Logger } from './logger.ts';
import { AccountService } from './services/account/account.service.ts';
import type { Orm } from './services/adapters/postgres/orm.ts';
import { ApiKeysService } from './services/api-keys.service.ts';
import { AuthService } from './services/auth.service.ts';
import { ChatService } from './services/chat/chat.service.ts';
import { ChatMemoryService } from './services/chat/chat-memory.service.ts';
import { TranscriptStore } from './services/chat/transcripts.ts';
import { TwinReplyService } from './services/chat/twin-reply.service.ts';
import { ChunkTextLoader } from './services/documents/chunk-text-loader.ts';
import { DocumentsService } from './services/documents/documents.service.ts';
import { createExtractPool } from './services/documents/ingest/extract-pool.ts';
import { type IngestOutcome, type IngestRun, ingestDocument } from './services/documents/ingest/pipeline.ts';
import { reembedOnStart } from './services/documents/reembed.service.ts';
import { RetrievalService } from './services/documents/retrieval.service.ts';
import { type ComputePool, createComputePool } from './services/memory/compute/compute-pool.ts';
import { MemoryService } from './services/memory/memory.service.ts';
import { MemoryBuild } from './services/memory/memory-build.ts';
import { meteredChatModel, meteredEmbedder } from './services/metrics/metered-models.ts';
import type { BlobStore } from './services/ports/blob-store.ts';
import type { ChatModel } from './services/ports/chat-model.ts';
import type { ChatTurnCache } from './services/ports/chat-turns.ts';
import type { Embedder } from './services/ports/embedder.ts';
import type { EventBus } from './services/ports/event-bus.ts';
import type { AnyJobDefinition, JobQueue } from './services/ports/job-queue.ts';
import type { LexicalIndex } from './services/ports/lexical-index.ts';
import type { Locks } from './services/ports/lock.ts';
import type { Metrics } from './services/ports/metrics.ts';
import type { RateLimits } from './services/ports/rate-limits.ts';
import type { Database } from './services/ports/repositories.ts';
import type { TextModel } from './services/ports/text-model.ts';
import type { Trainer } from './services/ports/trainer.ts';
import type { VectorIndex } from './services/ports/vector-index.ts';
import { checkReadiness } from './services/readiness.service.ts';
import { createRunEvaluator } from './services/training/run-evaluation.ts';
import { TrainingService } from './services/training/training.service.ts';
import { prepareTrainingData } from './services/training-data/training-data.service.ts';
import { UsersService } from './services/users.service.ts';

// The composition root: builds each adapter once per process from config (an SDK loads only when
// its adapter is chosen) and wires the domain services with exactly the ports they use. The job
// registry comes in from the entry point, so jobs and services never import each other.
export interface Services {
  config: Config;
  log: Logger;
  /** The ORM under the repositories: migrations and tests only. */
  orm: Orm;
  db: Database;
  /** The lexical side of hybrid search (chunk_terms in PostgreSQL, DESIGN §5). */
  lexical: LexicalIndex;
  blobs: BlobStore;
  vectors: VectorIndex;
  embedder: Embedder;
  events: EventBus;
  queue: JobQueue;
  chatModel: ChatModel;
  chatTurns: ChatTurnCache;
  locks: Locks;
  /** Per-user quotas on embedding queries, replies and uploads (DESIGN §10). */
  rateLimits: RateLimits;
  /** Prometheus metrics of this process (DESIGN §10), served at /metrics. */
  metrics: Metrics;
  documents: DocumentsService;
  ingest(run: IngestRun): Promise<IngestOutcome>;
  /** Chunk text by pointer, batched and cached: the worker's prompts and the API's citations. */
  chunks: ChunkTextLoader;
  retrieval: RetrievalService;
  transcripts: TranscriptStore;
  chats: ChatService;
  replies: TwinReplyService;
  chatMemory: ChatMemoryService;
  /** L1 memory: builds (the worker's `memory-update` job) and the version GraphQL reads. */
  memory: MemoryService;
  /** Training runs: L2 data, the trainer, callbacks, the watchdog, evaluation and promotion. */
  training: TrainingService;
  users: UsersService;
  apiKeys: ApiKeysService;
  /** Deleting a chat or the whole account, and exporting everything stored (DESIGN §10). */
  account: AccountService;
  /** Who a request's Authorization names: an access token, an API key, or anonymous (development). */
  auth: AuthService;
  readiness(timeoutMs?: number): ReturnType<typeof checkReadiness>;
  /** Queues the re-embedding of every document of another embedding model (one replica at a time). */
  reembedOnStart(signal?: AbortSignal): Promise<void>;
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
    return new EmbeddedVectorIndex(config.EMBEDDED_VECTOR_DIR, {
      prefix: config.WEAVIATE_COLLECTION,
      defaultModel: config.WEAVIATE_COLLECTION_MODEL,
    });
  }
  const { WeaviateVectorIndex } = await import('./services/adapters/weaviate/vector-index.weaviate.ts');
  return WeaviateVectorIndex.connect({
    url: config.WEAVIATE_URL,
    grpcUrl: config.WEAVIATE_GRPC_URL,
    apiKey: config.WEAVIATE_API_KEY,
    collection: config.WEAVIATE_COLLECTION,
    collectionModel: config.WEAVIATE_COLLECTION_MODEL,
    hnsw: {
      efConstruction: config.VECTOR_HNSW_EF_CONSTRUCTION,
      maxConnections: config.VECTOR_HNSW_MAX_CONNECTIONS,
      ef: config.VECTOR_HNSW_EF,
    },
    batch: {
      maxBatch: config.VECTOR_BATCH_MAX,
      lingerMs: config.VECTOR_BATCH_LINGER_MS,
      maxInFlight: config.VECTOR_BATCH_IN_FLIGHT,
    },
  });
}

/**
 * EMBEDDER's pick (embedderChoice): OpenAI (or a compatible server) when configured, else the
 * embedded model all-MiniLM-L6-v2 when installed, else the lexical hash embedder, which carries
 * the reason (`fallbackReason`). Under `auto` a model that does not load falls back too; an
 * explicit EMBEDDER=local-model that cannot load fails the start.
 */
export async function createEmbedder(config: Config): Promise<Embedder> {
  const choice = embedderChoice(config);
  const hash = async (reason?: string) => {
    const { LocalHashEmbedder } = await import('./services/adapters/local/embedder.local.ts');
    return new LocalHashEmbedder(config.EMBEDDING_DIMENSIONS, reason);
  };
  if (choice.kind === 'local-model') {
    try {
      return await createLocalModel(config, true);
    } catch (error) {
      if (config.EMBEDDER === 'local-model') throw error;
      return hash(
        `the embedding model in ${embedderModelDir(config)} did not load: ${(error as Error).message}`,
      );
    }
  }
  if (choice.kind === 'local-hash') return hash(choice.reason);
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

async function createLocalModel(config: Config, load: boolean): Promise<Embedder> {
  const options = {
    dir: embedderModelDir(config),
    threads: config.EMBEDDER_THREADS,
    precision: config.EMBEDDER_PRECISION,
  };
  let model: Embedder;
  if (config.EMBEDDER_OFF_LOOP) {
    const { ThreadedMiniLmEmbedder } = await import('./services/adapters/local/embedder.minilm-thread.ts');
    model = new ThreadedMiniLmEmbedder(options);
  } else {
    const { MiniLmEmbedder } = await import('./services/adapters/local/embedder.minilm.ts');
    model = new MiniLmEmbedder(options);
  }
  if (load) {
    try {
      await model.ready();
    } catch (error) {
      await model.close?.();
      throw error;
    }
  }
  return model;
}

/**
 * What semantic chunking embeds sentences with (issue 13, embedding spend): never the paid API.
 * The chunk embedder itself when it is local; else the local model when installed (loaded on
 * first use, so an API process that never ingests never loads it), else the hash embedder.
 */
export async function createSentenceEmbedder(config: Config, embedder: Embedder): Promise<Embedder> {
  if (embedder.kind !== 'openai') return embedder;
  if (embedderModelInstalled(config)) return createLocalModel(config, false);
  const { LocalHashEmbedder } = await import('./services/adapters/local/embedder.local.ts');
  return new LocalHashEmbedder();
}

/** Picks the adapter from config; the `openai` SDK loads only when a model backend is chosen. */
export async function createChatModel(config: Config): Promise<ChatModel> {
  const backend = chatBackendOf(config);
  if (backend === 'extractive') {
    const { ExtractiveChatModel } = await import('./services/adapters/local/chat-model.extractive.ts');
    return new ExtractiveChatModel();
  }
  const { OpenAIChatModel } = await import('./services/adapters/openai/chat-model.openai.ts');
  if (backend === 'modal') {
    if (!config.MODAL_INFERENCE_URL) throw new Error('CHAT_BACKEND=modal needs MODAL_INFERENCE_URL');
    return new OpenAIChatModel({
      kind: 'modal',
      baseURL: config.MODAL_INFERENCE_URL,
      apiKey: config.MODAL_TOKEN,
      // the inference service resolves it to the user's latest trained model, else the base model
      model: (userId) => `twin:${userId}`,
      timeoutMs: config.CHAT_REQUEST_TIMEOUT_MS,
    });
  }
  return new OpenAIChatModel({
    kind: 'openai',
    baseURL: config.CHAT_BASE_URL ?? config.OPENAI_BASE_URL,
    apiKey: config.CHAT_API_KEY ?? config.OPENAI_API_KEY,
    model: config.CHAT_MODEL,
    timeoutMs: config.CHAT_REQUEST_TIMEOUT_MS,
  });
}

/** The LLM that builds memory: the OpenAI-compatible chat server when configured (MEMORY_LLM). */
export async function createTextModel(config: Config): Promise<TextModel | null> {
  const use =
    config.MEMORY_LLM === 'openai' || (config.MEMORY_LLM === 'auto' && chatBackendOf(config) === 'openai');
  if (!use) return null;
  const { OpenAITextModel } = await import('./services/adapters/openai/text-model.openai.ts');
  return new OpenAITextModel({
    baseURL: config.CHAT_BASE_URL ?? config.OPENAI_BASE_URL,
    apiKey: config.CHAT_API_KEY ?? config.OPENAI_API_KEY,
    model: config.MEMORY_LLM_MODEL ?? config.CHAT_MODEL,
    timeoutMs: Math.min(config.CHAT_REQUEST_TIMEOUT_MS, 60_000),
    maxRetries: 2,
  });
}

/** How to get a trainer: what TrainerUnavailable tells a user. */
export const HOW_TO_GET_A_TRAINER =
  'Set MODAL_TRAIN_URL and MODAL_TRAIN_TOKEN to a deployed Modal app (`modal deploy modal/twin_gpu/modal_app.py`, ' +
  'see modal/README.md), or build and start the local trainer (`bash modal/scripts/setup.sh`, then ' +
  '`bash modal/scripts/local-trainer.sh`, which prints the variables to set: MODAL_TRAIN_URL, MODAL_TOKEN, MODAL_CALLBACK_SECRET).';

/** modal/'s web endpoint over HTTP when MODAL_TRAIN_URL is set, else one that answers how to get it. */
export async function createTrainer(config: Config): Promise<Trainer> {
  const { HttpTrainer, UnconfiguredTrainer } = await import('./services/adapters/modal/trainer.modal.ts');
  if (!config.MODAL_TRAIN_URL)
    return new UnconfiguredTrainer(`no trainer is configured. ${HOW_TO_GET_A_TRAINER}`);
  const host = new URL(config.MODAL_TRAIN_URL).hostname;
  const local = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  return new HttpTrainer({
    baseUrl: config.MODAL_TRAIN_URL,
    inferenceUrl: config.MODAL_INFERENCE_URL ?? config.MODAL_TRAIN_URL,
    token: config.MODAL_TRAIN_TOKEN ?? config.MODAL_TOKEN,
    kind: local ? 'local' : 'modal',
    timeoutMs: config.TRAINING_REQUEST_TIMEOUT_MS,
    howToStart: local
      ? 'Start the local trainer: `bash modal/scripts/local-trainer.sh` (after `bash modal/scripts/setup.sh`).'
      : 'Check the Modal deployment (`modal app list`) and MODAL_TRAIN_URL.',
  });
}

function trainingHyperparameters(config: Config): Record<string, unknown> {
  if (!config.TRAINING_HYPERPARAMETERS) return {};
  const parsed: unknown = JSON.parse(config.TRAINING_HYPERPARAMETERS);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('TRAINING_HYPERPARAMETERS must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** The clustering thread pool, started on first use: the API process never needs one. */
function lazyComputePool(maxThreads: number): ComputePool {
  let pool: ComputePool | null = null;
  return {
    run: ((task: never, input: never) => {
      pool ??= createComputePool({ maxThreads });
      return pool.run(task, input);
    }) as ComputePool['run'],
    close: async () => {
      await pool?.close();
    },
  };
}

export async function createServices(
  config: Config,
  log: Logger,
  jobs: readonly AnyJobDefinition[],
): Promise<Services> {
  const [{ createOrm }, { pgDatabase }, { RedisEventBus }, { BullJobQueue }] = await Promise.all([
    import('./services/adapters/postgres/orm.ts'),
    import('./services/adapters/postgres/database.pg.ts'),
    import('./services/adapters/redis/event-bus.redis.ts'),
    import('./services/adapters/bullmq/job-queue.bullmq.ts'),
  ]);
  const { PrometheusMetrics } = await import('./services/adapters/prometheus/metrics.prom.ts');
  const metrics = new PrometheusMetrics();
  const [orm, blobs, vectors, embedder] = await Promise.all([
    createOrm(config.DATABASE_URL, config.DATABASE_POOL_MAX),
    createBlobStore(config),
    createVectorIndex(config),
    createEmbedder(config).then((e) => meteredEmbedder(e, metrics)),
  ]);
  if (embedder.fallbackReason && config.EMBEDDER !== 'local-hash')
    log.warn(
      `embeddings: LEXICAL HASH EMBEDDER, search matches words, not meaning: ${embedder.fallbackReason}`,
    );
  const sentenceEmbedder =
    embedder.kind === 'openai'
      ? meteredEmbedder(await createSentenceEmbedder(config, embedder), metrics)
      : embedder;
  const db = pgDatabase(orm);
  const { PgLexicalIndex } = await import('./services/adapters/postgres/lexical-index.pg.ts');
  const lexical: LexicalIndex = new PgLexicalIndex(orm);
  const [{ RedisLocks }, { RedisChatTurnCache }] = await Promise.all([
    import('./services/adapters/redis/lock.redis.ts'),
    import('./services/adapters/redis/chat-turns.redis.ts'),
  ]);
  const chatModel = meteredChatModel(await createChatModel(config), metrics, log);
  const locks = new RedisLocks(config.REDIS_URL, config.QUEUE_PREFIX);
  const { RedisRateLimits } = await import('./services/adapters/redis/rate-limits.redis.ts');
  const windowSec = config.RATE_LIMIT_WINDOW_SEC;
  const rateLimits = new RedisRateLimits({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    quotas: {
      search: { points: config.RATE_LIMIT_SEARCH, windowSec },
      reply: { points: config.RATE_LIMIT_REPLIES, windowSec },
      upload: { points: config.RATE_LIMIT_UPLOADS, windowSec },
      training: { points: config.RATE_LIMIT_TRAINING, windowSec: config.RATE_LIMIT_TRAINING_WINDOW_SEC },
    },
  });
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
    onDelivered: (lag) => metrics.eventDelivered(lag),
  });
  metrics.observeActiveSubscriptions(() => events.listenerCount());
  const queue: JobQueue = new BullJobQueue(jobs, {
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
    onError: redisError,
  });
  metrics.observeQueueDepth(() => queue.depth());

  // the domain services, each given exactly the ports it uses
  const pool = lazyComputePool(config.MEMORY_COMPUTE_THREADS);
  const textModel = await createTextModel(config);
  const memoryBuild = new MemoryBuild(
    { repo: db.memory, documents: db.documents, blobs, vectors, events, locks, pool, textModel, log },
    {
      seed: config.MEMORY_SEED,
      entityBudget: config.MEMORY_ENTITY_BUDGET,
      llmConcurrency: config.MEMORY_LLM_CONCURRENCY,
      embeddingModel: embedder.model,
    },
  );
  const memory = new MemoryService(
    { repo: db.memory, documents: db.documents, blobs, queue, events, builder: memoryBuild },
    { debounceMs: config.MEMORY_DEBOUNCE_MS },
  );
  const chunks = new ChunkTextLoader(blobs, db.documents);
  const documents = new DocumentsService(
    { documents: db.documents, blobs, vectors, lexical, chunks, embedder, events, queue, memory },
    { uploadMaxBytes: config.UPLOAD_MAX_BYTES },
  );
  const extractPool = createExtractPool({
    maxThreads: Math.max(1, config.EXTRACT_THREADS),
    timeoutMs: config.EXTRACT_TIMEOUT_MS,
    maxHeapMb: config.EXTRACT_MAX_HEAP_MB,
    nice: config.EXTRACT_NICE,
  });
  const ingestDeps = {
    documents: db.documents,
    blobs,
    vectors,
    lexical,
    embedder,
    sentenceEmbedder,
    events,
    ...(config.EXTRACT_THREADS > 0 ? { extractPool } : {}),
  };
  const ingestOptions = {
    maxUncompressedBytes: config.INGEST_MAX_UNCOMPRESSED_BYTES,
    chunkMinTokens: config.CHUNK_MIN_TOKENS,
    chunkMaxTokens: config.CHUNK_MAX_TOKENS,
  };
  const retrieval = new RetrievalService(
    { embedder, vectors, lexical, chunks, log },
    {
      topK: config.CHAT_TOP_K,
      minScore: config.CHAT_MIN_SCORE,
      fusion: {
        vector: config.SEARCH_VECTOR_WEIGHT,
        lexical: config.SEARCH_LEXICAL_WEIGHT,
        k: config.SEARCH_RRF_K,
      },
      candidates: config.SEARCH_CANDIDATES,
    },
  );
  const transcripts = new TranscriptStore({ blobs, chatTurns });
  const chats = new ChatService(
    { sessions: db.chatSessions, transcripts, queue, locks },
    { messageMaxChars: config.CHAT_MESSAGE_MAX_CHARS, idleMs: config.CHAT_IDLE_MS },
  );
  const replies = new TwinReplyService(
    { chat: chats, transcripts, retrieval, chatModel, events, queue, blobs, memory },
    {
      contextTokens: config.CHAT_CONTEXT_TOKENS,
      historyTokens: config.CHAT_HISTORY_TOKENS,
      maxTokens: config.CHAT_MAX_TOKENS,
      temperature: config.CHAT_TEMPERATURE,
      deltaWindowMs: config.REPLY_DELTA_WINDOW_MS,
    },
  );
  const chatMemory = new ChatMemoryService({ chat: chats, transcripts, documents, blobs });
  const { PgTrainingRepository } = await import('./services/adapters/postgres/training.repository.pg.ts');
  const trainingDataDeps = { blobs, documents: db.documents, textModel, embedder };
  const training = new TrainingService(
    {
      runs: new PgTrainingRepository(orm),
      trainer: await createTrainer(config),
      queue,
      events,
      blobs,
      memory,
      prepareData: (request) =>
        prepareTrainingData(
          trainingDataDeps,
          { ...request, generator: 'auto' },
          {
            maxExamples: config.L2_MAX_EXAMPLES,
            minChunks: config.L2_MIN_CHUNKS,
            minExamples: config.L2_MIN_EXAMPLES,
            contextTokens: config.CHAT_CONTEXT_TOKENS,
            historyTokens: config.CHAT_HISTORY_TOKENS,
            llmConcurrency: config.MEMORY_LLM_CONCURRENCY,
          },
        ),
      // a candidate can be asked only where inference serves twin:{userId}@{runId} (modal/)
      evaluate:
        chatModel.kind === 'modal'
          ? createRunEvaluator(
              { blobs, retrieval, chatModel },
              {
                maxItems: config.TRAINING_EVAL_MAX_ITEMS,
                contextTokens: config.CHAT_CONTEXT_TOKENS,
                maxTokens: Math.min(config.CHAT_MAX_TOKENS, 256),
                concurrency: 2,
              },
            )
          : null,
      log,
    },
    {
      callbackBaseUrl: config.TRAINING_CALLBACK_BASE_URL ?? `http://${config.HOST}:${config.PORT}`,
      callbackSecret: config.MODAL_CALLBACK_SECRET,
      baseModel: config.TRAINING_BASE_MODEL,
      hyperparameters: trainingHyperparameters(config),
      quantizations: config.TRAINING_QUANTIZATIONS.split(',')
        .map((q) => q.trim())
        .filter(Boolean),
      maxAttempts: config.TRAINING_ATTEMPTS,
      backoffMs: config.TRAINING_BACKOFF_MS,
      stallSec: config.TRAINING_STALL_SEC,
      maxRunSec: config.TRAINING_MAX_RUN_SEC,
      watchdogIntervalMs: config.TRAINING_WATCHDOG_INTERVAL_MS,
      autoPromote: config.TRAINING_AUTO_PROMOTE,
      minChunks: config.L2_MIN_CHUNKS,
      howToGetTrainer: HOW_TO_GET_A_TRAINER,
    },
  );
  const apiKeys = new ApiKeysService({ apiKeys: db.apiKeys });
  const users = new UsersService(db.users);
  const account = new AccountService({
    account: db.account,
    sessions: db.chatSessions,
    chats,
    transcripts,
    documents,
    users,
    blobs,
    vectors,
    queue,
  });
  const auth = new AuthService(
    { apiKeys },
    {
      keys: [
        { keyId: config.AUTH_KEY_ID, secret: config.AUTH_SECRET },
        ...(config.AUTH_PREVIOUS_SECRET && config.AUTH_PREVIOUS_KEY_ID
          ? [{ keyId: config.AUTH_PREVIOUS_KEY_ID, secret: config.AUTH_PREVIOUS_SECRET }]
          : []),
      ],
      audience: config.AUTH_AUDIENCE,
      ttlSec: config.AUTH_TOKEN_TTL_SEC,
      allowAnonymous: config.AUTH_ALLOW_ANONYMOUS,
      anonymousUserId: config.AUTH_ANONYMOUS_USER_ID,
    },
  );
  return {
    config,
    log,
    orm,
    db,
    lexical,
    blobs,
    vectors,
    embedder,
    events,
    queue,
    chatModel,
    chatTurns,
    locks,
    rateLimits,
    metrics,
    documents,
    ingest: (run) => ingestDocument(ingestDeps, ingestOptions, run),
    chunks,
    retrieval,
    transcripts,
    chats,
    replies,
    chatMemory,
    memory,
    training,
    users,
    apiKeys,
    account,
    auth,
    readiness: (timeoutMs) => checkReadiness({ db, queue, vectors, blobs }, timeoutMs),
    reembedOnStart: (signal) =>
      reembedOnStart(
        {
          embedder,
          locks,
          log,
          findStale: (model, limit, after) => db.documents.listEmbeddedWithOtherModel(model, limit, after),
          reprocess: (userId, id) => documents.reprocess(userId, id),
        },
        signal,
      ),
    async close() {
      await Promise.allSettled([
        queue.close(),
        events.close(),
        vectors.close(),
        db.close(),
        locks.close(),
        rateLimits.close(),
        chatTurns.close(),
        pool.close(),
        extractPool.close(),
        embedder.close?.(),
        sentenceEmbedder === embedder ? undefined : sentenceEmbedder.close?.(),
      ]);
      blobs.close();
    },
  };
}

import weaviate, { type Collection, Filters, type WeaviateClient } from 'weaviate-client';
import {
  acceptedModelTags,
  type ChunkVector,
  type CollectionNaming,
  chunkVectorId,
  collectionName,
  isCollectionOf,
  type ScannedVector,
  type SearchOptions,
  tenantName,
  type VectorHit,
  type VectorIndex,
} from '../../ports/vector-index.ts';
import { WriteBatcher, type WriteBatcherOptions } from './write-batcher.ts';

export interface WeaviateOptions {
  url: string;
  grpcUrl: string;
  apiKey?: string;
  /** The collection of `collectionModel`, and the prefix of every other model's (DESIGN §5). */
  collection: string;
  /** The embedding model tag whose vectors `collection` itself holds. */
  collectionModel: string;
  /**
   * HNSW graph build of each collection (defaults: 128 / 32, Weaviate's own). Used only when this
   * adapter creates a collection; an existing collection keeps the settings it was created with.
   * `ef`, the candidate list of a query (-1: Weaviate's dynamic ef), can change: it is set on
   * existing collections too, once per process, when it differs.
   */
  hnsw?: { efConstruction?: number; maxConnections?: number; ef?: number };
  /** Coalescing of concurrent upserts per tenant (defaults: 500 objects, 5 ms, 2 in flight). */
  batch?: Partial<WriteBatcherOptions>;
}

type InsertObject = {
  collection: string;
  id: string;
  vectors: number[];
  properties: Record<string, unknown>;
};

const PROPERTIES = [
  'document_id',
  's3_path',
  'embedding_model',
  'chunk_index',
  'char_start',
  'char_end',
  'page',
] as const;

// HNSW build settings, fixed when a collection is created: Weaviate's 128 / 32 keep recall@5 that
// cheaper graphs lose (BENCHMARKS.md, search); options.hnsw overrides them.
const HNSW_EF_CONSTRUCTION = 128;
const HNSW_MAX_CONNECTIONS = 32;
const SCAN_PAGE = 2000;

/** A weaviate-client for a REST URL and a gRPC `host:port` (the adapter's own, and the benches'). */
export function connectWeaviate(options: { url: string; grpcUrl: string; apiKey?: string }) {
  const http = new URL(options.url);
  const [grpcHost, grpcPort] = options.grpcUrl.replace(/^\w+:\/\//, '').split(':');
  return weaviate.connectToCustom({
    httpHost: http.hostname,
    httpPort: Number(http.port || (http.protocol === 'https:' ? 443 : 80)),
    httpSecure: http.protocol === 'https:',
    grpcHost: grpcHost ?? http.hostname,
    grpcPort: Number(grpcPort ?? 50051),
    grpcSecure: http.protocol === 'https:',
    ...(options.apiKey ? { authCredentials: new weaviate.ApiKey(options.apiKey) } : {}),
    timeout: { init: 10, query: 30, insert: 120 },
    skipInitChecks: true,
  });
}

export class WeaviateVectorIndex implements VectorIndex {
  readonly backend = 'weaviate' as const;
  /** `collection/tenant` pairs known to exist. */
  private readonly tenants = new Set<string>();
  /** Collections known to exist (or being created by this process). */
  private readonly collections = new Map<string, Promise<void>>();

  private readonly client: WeaviateClient;
  private readonly naming: CollectionNaming;
  private readonly efConstruction: number;
  private readonly maxConnections: number;
  private readonly ef: number | undefined;
  /** Collections whose query ef this process has checked (and set where it differed). */
  private readonly efChecked = new Map<string, Promise<void>>();
  /** Upserts of concurrently ingesting documents of one tenant share insertMany batches. */
  readonly writes: WriteBatcher<InsertObject>;

  private readonly restUrl: string;
  private readonly restHeaders: Record<string, string>;

  private constructor(client: WeaviateClient, options: WeaviateOptions) {
    this.client = client;
    this.naming = { prefix: options.collection, defaultModel: options.collectionModel };
    this.efConstruction = options.hnsw?.efConstruction ?? HNSW_EF_CONSTRUCTION;
    this.maxConnections = options.hnsw?.maxConnections ?? HNSW_MAX_CONNECTIONS;
    this.ef = options.hnsw?.ef;
    this.restUrl = options.url.replace(/\/+$/, '');
    this.restHeaders = {
      'content-type': 'application/json',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    };
    const batch = options.batch ?? {};
    this.writes = new WriteBatcher<InsertObject>((lane, objects) => this.insertBatch(lane, objects), {
      maxBatch: batch.maxBatch ?? 500,
      lingerMs: batch.lingerMs ?? 5,
      maxInFlight: batch.maxInFlight ?? 2,
    });
  }

  static async connect(options: WeaviateOptions): Promise<WeaviateVectorIndex> {
    return new WeaviateVectorIndex(await connectWeaviate(options), options);
  }

  /** The collection that holds (only) vectors of this model tag. */
  collectionOf(embeddingModel: string): string {
    return collectionName(this.naming, embeddingModel);
  }

  private ensureCollection(name: string): Promise<void> {
    let ready = this.collections.get(name);
    if (ready) return ready;
    ready = (async () => {
      if (await this.client.collections.exists(name)) return this.applyEf(name);
      try {
        await this.client.collections.create({
          name,
          multiTenancy: weaviate.configure.multiTenancy({ enabled: true, autoTenantActivation: true }),
          vectorizers: weaviate.configure.vectors.selfProvided({
            vectorIndexConfig: weaviate.configure.vectorIndex.hnsw({
              distanceMetric: 'cosine',
              efConstruction: this.efConstruction,
              maxConnections: this.maxConnections,
              ...(this.ef !== undefined ? { ef: this.ef } : {}),
            }),
          }),
          properties: [
            { name: 'document_id', dataType: 'text', indexFilterable: true, tokenization: 'field' },
            { name: 's3_path', dataType: 'text', indexFilterable: false, indexSearchable: false },
            { name: 'embedding_model', dataType: 'text', indexFilterable: true, tokenization: 'field' },
            { name: 'chunk_index', dataType: 'int' },
            { name: 'char_start', dataType: 'int', indexFilterable: false },
            { name: 'char_end', dataType: 'int', indexFilterable: false },
            { name: 'page', dataType: 'int', indexFilterable: false },
            {
              name: 'metadata',
              dataType: 'object',
              nestedProperties: [
                { name: 'filename', dataType: 'text' },
                { name: 'content_type', dataType: 'text' },
                { name: 'timestamp', dataType: 'text' },
                { name: 'chunk_index', dataType: 'int' },
              ],
            },
          ],
        });
      } catch (error) {
        // another process created it first
        if (!(await this.client.collections.exists(name))) throw error;
        await this.applyEf(name);
      }
    })().catch((error) => {
      this.collections.delete(name);
      throw error;
    });
    this.collections.set(name, ready);
    return ready;
  }

  /** Sets the configured query ef on an existing collection where it differs (mutable in Weaviate). */
  private applyEf(name: string): Promise<void> {
    const ef = this.ef;
    if (ef === undefined) return Promise.resolve();
    let checked = this.efChecked.get(name);
    if (checked) return checked;
    checked = (async () => {
      const collection = this.client.collections.use(name);
      const config = await collection.config.get();
      const current = (config.vectorizers.default?.indexConfig as { ef?: number } | undefined)?.ef;
      if (current === undefined || current === ef) return;
      await collection.config.update({
        vectorizers: [
          weaviate.reconfigure.vectors.update({
            name: 'default',
            vectorIndexConfig: weaviate.reconfigure.vectorIndex.hnsw({ ef }),
          }),
        ],
      });
    })().catch((error) => {
      this.efChecked.delete(name);
      throw error;
    });
    this.efChecked.set(name, checked);
    return checked;
  }

  /** This process's collections on the server: the default model's and every prefixed one. */
  private async existingCollections(): Promise<string[]> {
    const all = await this.client.collections.listAll();
    return all.map((c) => c.name).filter((name) => isCollectionOf(this.naming, name));
  }

  private tenant(collection: string, userId: string): Collection {
    return this.client.collections.use(collection).withTenant(tenantName(userId)) as unknown as Collection;
  }

  private async ensureTenantIn(collection: string, name: string): Promise<void> {
    const key = `${collection}/${name}`;
    if (this.tenants.has(key)) return;
    await this.ensureCollection(collection);
    const tenants = this.client.collections.use(collection).tenants;
    if (!(await tenants.getByName(name))) {
      try {
        await tenants.create([{ name }]);
      } catch (error) {
        if (!(await tenants.getByName(name))) throw error;
      }
    }
    this.tenants.add(key);
  }

  /** Whether the user has a tenant in the collection; creates neither (reads must not). */
  private async hasTenant(collection: string, userId: string, collectionExists = false): Promise<boolean> {
    const name = tenantName(userId);
    const key = `${collection}/${name}`;
    if (this.tenants.has(key)) return true;
    if (!collectionExists && !(await this.client.collections.exists(collection))) return false;
    if (!(await this.client.collections.use(collection).tenants.getByName(name))) return false;
    this.tenants.add(key);
    return true;
  }

  async ensureTenant(userId: string, embeddingModel: string): Promise<void> {
    await this.ensureTenantIn(this.collectionOf(embeddingModel), tenantName(userId));
  }

  async upsert(userId: string, chunks: readonly ChunkVector[]): Promise<void> {
    if (chunks.length === 0) return;
    const tenant = tenantName(userId);
    const byCollection = new Map<string, ChunkVector[]>();
    for (const c of chunks) {
      const name = this.collectionOf(c.embeddingModel);
      byCollection.set(name, [...(byCollection.get(name) ?? []), c]);
    }
    const results = await Promise.all(
      [...byCollection].map(async ([collection, group]) => {
        const write = async () => {
          await this.ensureTenantIn(collection, tenant);
          return this.writes.write(
            `${collection}/${tenant}`,
            group.map((c) => toObject(collection, userId, c)),
          );
        };
        const errors = await write();
        if (![...errors.values()].some(isTenantMissing)) return errors;
        // another process deleted the tenant (deleteTenant) since this one created it
        this.tenants.delete(`${collection}/${tenant}`);
        return write();
      }),
    );
    // only this caller's objects: another document's failure in the same batch is not ours
    const errors = results.flatMap((r) => [...r.values()]);
    if (errors.length > 0) {
      throw new Error(`weaviate rejected ${errors.length} objects: ${errors[0]?.message ?? ''}`);
    }
  }

  /**
   * One batch for a tenant of a collection over REST `/v1/batch/objects`. The gRPC BatchObjects
   * call of Weaviate 1.39 (client insertMany) answered every batch after ~500 ms whatever its size
   * (8 objects: 507 ms, 40: 516 ms) while REST takes 39 ms for 40 objects on the same server;
   * per-object failures come back by index instead of throwing.
   */
  private async insertBatch(lane: string, objects: InsertObject[]): Promise<Map<number, Error>> {
    const tenant = lane.slice(lane.lastIndexOf('/') + 1);
    const body = JSON.stringify({
      objects: objects.map((o) => ({
        class: o.collection,
        tenant,
        id: o.id,
        properties: o.properties,
        vectors: { default: o.vectors },
      })),
    });
    const res = await fetch(`${this.restUrl}/v1/batch/objects`, {
      method: 'POST',
      headers: this.restHeaders,
      body,
      signal: AbortSignal.timeout(120_000),
    });
    if (!res.ok)
      throw new Error(`weaviate batch insert failed: ${res.status} ${(await res.text()).slice(0, 500)}`);
    const out = (await res.json()) as { result?: { errors?: { error?: { message?: string }[] } } }[];
    const errors = new Map<number, Error>();
    out.forEach((o, i) => {
      const e = o.result?.errors?.error;
      if (e?.length) errors.set(i, new Error(e.map((x) => x.message ?? 'unknown error').join('; ')));
    });
    if (out.length !== objects.length) {
      for (let i = out.length; i < objects.length; i++) errors.set(i, new Error('no result from weaviate'));
    }
    return errors;
  }

  async search(userId: string, vector: readonly number[], options: SearchOptions): Promise<VectorHit[]> {
    const name = this.collectionOf(options.embeddingModel);
    if (!(await this.hasTenant(name, userId))) return [];
    // once per collection and process; a failure leaves the setting as it is and retries next time
    if (this.ef !== undefined) await this.applyEf(name).catch(() => {});
    const collection = this.tenant(name, userId);
    const models = acceptedModelTags(this.naming, options.embeddingModel);
    const byModel = collection.filter.byProperty('embedding_model');
    const result = await collection.query
      .nearVector([...vector], {
        limit: options.limit,
        filters: models.length === 1 ? byModel.equal(models[0]!) : byModel.containsAny(models),
        returnMetadata: ['distance'],
        returnProperties: [
          ...PROPERTIES,
          { name: 'metadata', properties: ['filename', 'content_type', 'timestamp'] },
        ] as never,
        ...(options.minScore !== undefined ? { distance: 1 - options.minScore } : {}),
      })
      .catch((error: unknown) => {
        if (!isTenantMissing(error)) throw error;
        this.tenants.delete(`${name}/${tenantName(userId)}`);
        return null;
      });
    if (!result) return [];
    return result.objects.map((o) => {
      const p = o.properties as Record<string, unknown>;
      const meta = (p.metadata ?? {}) as Record<string, unknown>;
      const page = Number(p.page ?? -1);
      return {
        id: o.uuid,
        score: 1 - (o.metadata?.distance ?? 1),
        documentId: String(p.document_id),
        s3Path: String(p.s3_path),
        embeddingModel: String(p.embedding_model),
        chunkIndex: Number(p.chunk_index),
        charStart: Number(p.char_start ?? 0),
        charEnd: Number(p.char_end ?? 0),
        page: page < 0 ? null : page,
        filename: String(meta.filename ?? ''),
        contentType: String(meta.content_type ?? ''),
        timestamp: String(meta.timestamp ?? ''),
      };
    });
  }

  async scan(
    userId: string,
    options: { documentId: string; embeddingModel: string },
  ): Promise<ScannedVector[]> {
    const name = this.collectionOf(options.embeddingModel);
    if (!(await this.hasTenant(name, userId))) return [];
    const collection = this.tenant(name, userId);
    const out: ScannedVector[] = [];
    // paged by chunk index, not offset: an offset page stops at QUERY_MAXIMUM_RESULTS (10,000)
    for (let after = -1; ; ) {
      const result = await collection.query.fetchObjects({
        filters: Filters.and(
          collection.filter.byProperty('document_id').equal(options.documentId),
          collection.filter.byProperty('chunk_index').greaterThan(after),
        ),
        sort: collection.sort.byProperty('chunk_index' as never),
        limit: SCAN_PAGE,
        includeVector: true,
        returnProperties: ['chunk_index'] as never,
      });
      for (const o of result.objects) {
        const vector = o.vectors?.default ?? Object.values(o.vectors ?? {})[0];
        if (!Array.isArray(vector)) continue;
        out.push({
          chunkIndex: Number((o.properties as Record<string, unknown>).chunk_index),
          vector: vector as number[],
        });
      }
      if (result.objects.length < SCAN_PAGE) break;
      after = out[out.length - 1]!.chunkIndex;
    }
    return out;
  }

  /** The user's tenants among the given collections (all of this naming's when none are given). */
  private async tenantsOf(userId: string, embeddingModel?: string): Promise<string[]> {
    const names =
      embeddingModel === undefined ? await this.existingCollections() : [this.collectionOf(embeddingModel)];
    const present = await Promise.all(
      names.map((name) => this.hasTenant(name, userId, embeddingModel === undefined)),
    );
    return names.filter((_, i) => present[i]);
  }

  /**
   * Sums `count` over the user's tenants. A tenant another process deleted (deleteTenant) while
   * this one still remembered it counts 0 and is forgotten, so the next write creates it again.
   */
  private async sumOverTenants(
    userId: string,
    embeddingModel: string | undefined,
    count: (collection: Collection) => Promise<number>,
  ): Promise<number> {
    const counts = await Promise.all(
      (await this.tenantsOf(userId, embeddingModel)).map((name) =>
        count(this.tenant(name, userId)).catch((error: unknown) => {
          if (!isTenantMissing(error)) throw error;
          this.tenants.delete(`${name}/${tenantName(userId)}`);
          return 0;
        }),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async deleteByDocument(userId: string, documentId: string): Promise<number> {
    return this.sumOverTenants(userId, undefined, async (collection) => {
      const result = await collection.data.deleteMany(
        collection.filter.byProperty('document_id').equal(documentId),
      );
      return result.successful;
    });
  }

  async countByDocument(userId: string, documentId: string, embeddingModel?: string): Promise<number> {
    return this.sumOverTenants(userId, embeddingModel, async (collection) => {
      const result = await collection.aggregate.overAll({
        filters: collection.filter.byProperty('document_id').equal(documentId),
      });
      return result.totalCount;
    });
  }

  async deleteTenant(userId: string): Promise<number> {
    const name = tenantName(userId);
    const counts = await Promise.all(
      (await this.existingCollections()).map(async (collection) => {
        this.tenants.delete(`${collection}/${name}`);
        if (!(await this.hasTenant(collection, userId, true))) return 0;
        this.tenants.delete(`${collection}/${name}`);
        const { totalCount } = await this.tenant(collection, userId).aggregate.overAll();
        await this.client.collections.use(collection).tenants.remove([name]);
        return totalCount;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async countTenant(userId: string): Promise<number> {
    return this.sumOverTenants(userId, undefined, async (c) => (await c.aggregate.overAll()).totalCount);
  }

  async ping(): Promise<void> {
    if (!(await this.client.isReady())) throw new Error('weaviate is not ready');
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

function toObject(collection: string, userId: string, c: ChunkVector): InsertObject {
  return {
    collection,
    id: chunkVectorId(userId, c.documentId, c.chunkIndex, c.embeddingModel),
    vectors: c.vector,
    properties: {
      document_id: c.documentId,
      s3_path: c.s3Path,
      embedding_model: c.embeddingModel,
      chunk_index: c.chunkIndex,
      char_start: c.charStart,
      char_end: c.charEnd,
      page: c.page ?? -1,
      metadata: {
        filename: c.filename,
        content_type: c.contentType,
        timestamp: c.timestamp,
        chunk_index: c.chunkIndex,
      },
    },
  };
}

/** Weaviate's answer about a tenant that does not exist (deleted by another process). */
function isTenantMissing(error: unknown): boolean {
  return (
    error instanceof Error && /tenant not found|tenant .* does not exist|no tenant found/i.test(error.message)
  );
}

import DataLoader from 'dataloader';
import type { Services } from './container.ts';
import type { DocumentRecord } from './services/ports/document.ts';
import type { ClusterRow, EntityRow, RelationRow, TopicRow } from './services/ports/memory.ts';
import type { EntityMention } from './services/ports/memory-repository.ts';

/** A row of one L1 memory version: ids are stable across versions, so the version is in the key. */
export interface MemoryKey {
  version: string;
  id: string;
}

/**
 * Per-request batching: every document and object read in one tick of a request becomes one SQL
 * `$in` query and one bounded-concurrency S3 fetch, however large the page. Scoped to the caller,
 * so a loader can never return another tenant's rows or objects.
 */
export interface Loaders {
  document: DataLoader<string, DocumentRecord | null>;
  /** A chunk's pointer (or a tenant-relative object key) → its text (null when it is gone). */
  objectText: DataLoader<string, string | null>;
  /** Every topic of a memory version (the tree's `children` are read from it). */
  memoryTopics: DataLoader<string, TopicRow[]>;
  memoryTopic: DataLoader<MemoryKey, TopicRow | null, string>;
  memoryCluster: DataLoader<MemoryKey, ClusterRow | null, string>;
  memoryEntity: DataLoader<MemoryKey, EntityRow | null, string>;
  /** By entity id. */
  entityMentions: DataLoader<MemoryKey, EntityMention[], string>;
  /** By entity id: relations where it is the source or the target. */
  entityRelations: DataLoader<MemoryKey, RelationRow[], string>;
}

/** One service call per version in the batch (a request reads one version, so one query). */
function perVersion<V>(load: (version: string, ids: string[]) => Promise<V[]>) {
  return new DataLoader<MemoryKey, V, string>(
    async (keys) => {
      const groups = new Map<string, number[]>();
      for (const [i, k] of keys.entries()) groups.set(k.version, [...(groups.get(k.version) ?? []), i]);
      const out: V[] = new Array(keys.length);
      await Promise.all(
        [...groups].map(async ([version, at]) => {
          const rows = await load(
            version,
            at.map((i) => keys[i]!.id),
          );
          at.forEach((i, j) => {
            out[i] = rows[j] as V;
          });
        }),
      );
      return out;
    },
    { cacheKeyFn: (k) => `${k.version}\u0000${k.id}`, maxBatchSize: 1000 },
  );
}

export function createLoaders(services: Services, userId: string): Loaders {
  const { documents, memory } = services;
  return {
    document: new DataLoader((ids) => documents.getMany(userId, ids), { maxBatchSize: 1000 }),
    // through the chunk text cache: it reads packed chunks by their byte ranges, one batch a tick
    objectText: new DataLoader((keys) => Promise.all(keys.map((k) => services.chunks.load(userId, k))), {
      maxBatchSize: 500,
    }),
    memoryTopics: new DataLoader((versions) => Promise.all(versions.map((v) => memory.topics(userId, v)))),
    memoryTopic: perVersion((v, ids) => memory.topicsById(userId, v, ids)),
    memoryCluster: perVersion((v, ids) => memory.clustersById(userId, v, ids)),
    memoryEntity: perVersion((v, ids) => memory.entitiesById(userId, v, ids)),
    entityMentions: perVersion((v, ids) => memory.mentionsOf(userId, v, ids)),
    entityRelations: perVersion((v, ids) => memory.relationsOf(userId, v, ids)),
  };
}

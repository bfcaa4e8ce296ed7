import DataLoader from 'dataloader';
import type { Services } from './container.ts';
import type { DocumentRecord } from './services/ports/document.ts';

/**
 * Per-request batching: every document and object read in one tick of a request becomes one SQL
 * `$in` query and one bounded-concurrency S3 fetch, however large the page. Scoped to the caller,
 * so a loader can never return another tenant's rows or objects.
 */
export interface Loaders {
  document: DataLoader<string, DocumentRecord | null>;
  /** Tenant-relative object key → UTF-8 text (null when the object is gone). */
  objectText: DataLoader<string, string | null>;
}

export function createLoaders(services: Services, userId: string): Loaders {
  const { documents } = services;
  return {
    document: new DataLoader((ids) => documents.getMany(userId, ids), { maxBatchSize: 1000 }),
    objectText: new DataLoader(
      async (keys) =>
        (await services.blobs.getMany(userId, keys)).map((b) =>
          b instanceof Buffer ? b.toString('utf8') : null,
        ),
      { maxBatchSize: 500 },
    ),
  };
}

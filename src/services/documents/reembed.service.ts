import pMap from 'p-map';
import type { Logger } from '../../logger.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { Locks } from '../ports/lock.ts';
import { LockTimeoutError } from '../ports/lock.ts';
import type { DocumentKey } from '../ports/repositories.ts';

// Switching the embedding model fills the new model's collection in the background (DESIGN §5).
// Search under a model reads only that model's collection, so a document not yet re-embedded is
// not found there (never mixed in); its reprocess removes its old-model vectors.

export interface ReembedDeps {
  /** Processed documents embedded with another model tag, `limit` in a stable order after `after`. */
  findStale(embeddingModel: string, limit: number, after?: DocumentKey): Promise<DocumentKey[]>;
  /** Queues the document's ingest again (DocumentsService.reprocess). */
  reprocess(userId: string, documentId: string): Promise<unknown>;
}

export interface ReembedOptions {
  pageSize?: number;
  concurrency?: number;
  signal?: AbortSignal;
  /** A document whose reprocess failed (deleted meanwhile, say); the others go on. */
  onError?(document: DocumentKey, error: unknown): void;
}

/** Queues an ingest of every document whose vectors are not of `embeddingModel`; returns how many. */
export async function reembedStaleDocuments(
  deps: ReembedDeps,
  embeddingModel: string,
  options: ReembedOptions = {},
): Promise<{ queued: number; failed: number }> {
  const pageSize = options.pageSize ?? 200;
  let after: DocumentKey | undefined;
  let queued = 0;
  let failed = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const page = await deps.findStale(embeddingModel, pageSize, after);
    await pMap(
      page,
      async (doc) => {
        try {
          await deps.reprocess(doc.userId, doc.id);
          queued++;
        } catch (error) {
          failed++;
          options.onError?.(doc, error);
        }
      },
      { concurrency: options.concurrency ?? 4, signal: options.signal },
    );
    if (page.length < pageSize) return { queued, failed };
    after = page.at(-1);
  }
}

export interface ReembedOnStartDeps extends ReembedDeps {
  embedder: Embedder;
  locks: Locks;
  log: Logger;
}

/**
 * The worker's start-up step: one replica at a time (the others skip) queues the re-embedding of
 * every document of another model than the current one. Failures are logged, never thrown: a
 * worker serves jobs whether or not this step got through, and the next start tries again.
 */
export async function reembedOnStart(deps: ReembedOnStartDeps, signal?: AbortSignal): Promise<void> {
  const { embedder, locks, log } = deps;
  try {
    await embedder.ready(signal);
    const model = embedder.model;
    const result = await locks.withLock(
      `reembed:${model}`,
      () =>
        reembedStaleDocuments(deps, model, {
          signal,
          onError: (doc, err) => log.warn({ err, ...doc }, 're-embed: reprocess failed'),
        }),
      { ttlMs: 10 * 60_000, waitMs: 0 },
    );
    if (result.queued || result.failed)
      log.info({ model, ...result }, 're-embed: documents of other embedding models queued');
  } catch (error) {
    if (error instanceof LockTimeoutError) return; // another replica is on it
    if (signal?.aborted) return;
    log.warn({ err: error }, 're-embed at start did not complete; the next start retries');
  }
}

import type { Logger } from '../../logger.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { DocumentRecord } from '../ports/document.ts';
import {
  chunkIdOf,
  type DocumentExtraction,
  type EntityRow,
  parseChunkId,
  type RelationRow,
} from '../ports/memory.ts';
import type { TextModel } from '../ports/text-model.ts';
import { chunkTexts, readExtraction, writeExtraction } from './extraction-cache.ts';
import { extractWithModel } from './llm/entities.ts';
import { entityIdOf, mergeEntities } from './text/entities.ts';
import { AUTHOR } from './text/entity-names.ts';

// Entities and relations of a build (A3). Offline extraction (compromise) is in every document's
// cache already; with an LLM configured, documents not yet extracted by it are sent in priority
// order (the person's own writing first, newest first) until the per-build budget of chunks is
// spent, and the cache keeps the answer so the next build sends only what is new. Entities are
// then merged across documents; a deleted document's cache is gone, and with it its evidence.

/** The entity that stands for the person themselves in kinship relations. */
export const AUTHOR_TITLE = '(you)';

export interface EntityDeps {
  blobs: BlobStore;
  textModel: TextModel | null;
  log: Logger;
}

export async function buildEntities(
  deps: EntityDeps,
  userId: string,
  docs: readonly DocumentRecord[],
  extractions: DocumentExtraction<unknown>[],
  options: {
    budgetChunks: number;
    concurrency: number;
    signal: AbortSignal;
    subjective: ReadonlySet<string>;
  },
): Promise<{ entities: EntityRow[]; relations: RelationRow[] }> {
  if (deps.textModel && options.budgetChunks > 0) {
    const byId = new Map(docs.map((d) => [d.id, d]));
    const pending = extractions
      .filter((e) => e.extractor !== 'llm')
      .sort(
        (a, b) =>
          Number(options.subjective.has(b.documentId)) - Number(options.subjective.has(a.documentId)) ||
          b.createdAt.localeCompare(a.createdAt),
      );
    const chosen: DocumentExtraction<unknown>[] = [];
    let budget = options.budgetChunks;
    for (const e of pending) {
      if (e.chunks.length > budget) continue;
      budget -= e.chunks.length;
      chosen.push(e);
    }
    if (chosen.length) {
      const inputs = await Promise.all(
        chosen.map(async (e) => {
          const texts = await chunkTexts(deps.blobs, userId, byId.get(e.documentId)!);
          return {
            documentId: e.documentId,
            chunks: texts.map((text, index) => ({ index, text: text ?? '' })),
          };
        }),
      );
      const answers = await extractWithModel(deps.textModel, inputs, {
        budgetChunks: options.budgetChunks,
        concurrency: options.concurrency,
        signal: options.signal,
      });
      for (const e of chosen) {
        const answer = answers.extractions.get(e.documentId);
        // a document with a failed batch keeps its offline entities and is tried again next build
        if (!answer || answer.failedBatches > 0) continue;
        e.entities = answer.entities;
        e.relations = answer.relations;
        e.extractor = 'llm';
        // the cache is written from its stored form (the build holds term counts compactly)
        const stored = await readExtraction(deps.blobs, userId, e.documentId);
        if (stored && stored.ingestJobId === e.ingestJobId)
          await writeExtraction(deps.blobs, userId, {
            ...stored,
            entities: e.entities,
            relations: e.relations,
            extractor: 'llm',
          });
      }
      if (answers.failedBatches || answers.transportFailures)
        deps.log.warn(
          { userId, failedBatches: answers.failedBatches, error: answers.firstError },
          'memory entities: some LLM batches failed; those documents keep their offline entities',
        );
    }
  }
  const merged = mergeEntities(
    extractions.map((e) => ({
      documentId: e.documentId,
      chunkIdOf: (index: number) => chunkIdOf(e.documentId, index),
      entities: e.entities,
      relations: e.relations,
      source: e.extractor,
    })),
  );
  return withAuthor(merged);
}

/**
 * Kinship ("my sister Anna") relates the person to someone: the person is the entity `(you)`,
 * whose evidence is the passages that say so, so a relation never points at a missing entity.
 */
function withAuthor(merged: { entities: EntityRow[]; relations: RelationRow[] }) {
  const own = merged.relations.filter((r) => r.source === AUTHOR || r.target === AUTHOR);
  if (!own.length) return merged;
  const id = entityIdOf('person', AUTHOR);
  const textUnitIds = [...new Set(own.flatMap((r) => r.textUnitIds))].sort();
  const author: EntityRow = {
    id,
    title: AUTHOR_TITLE,
    type: 'person',
    description: 'the person whose memory this is',
    textUnitIds,
    documentIds: [...new Set(textUnitIds.map((t) => parseChunkId(t)?.documentId ?? ''))]
      .filter(Boolean)
      .sort(),
    mentionCount: textUnitIds.length,
    source: own.some((r) => merged.entities.find((e) => e.id === r.target)?.source === 'llm')
      ? 'llm'
      : 'compromise',
  };
  return {
    entities: [...merged.entities, author],
    relations: merged.relations.map((r) => ({
      ...r,
      source: r.source === AUTHOR ? id : r.source,
      target: r.target === AUTHOR ? id : r.target,
    })),
  };
}

import pMap from 'p-map';
import { z } from 'zod';
import {
  ENTITY_TYPES,
  type EntityType,
  type ExtractedEntity,
  type ExtractedRelation,
} from '../../ports/memory.ts';
import type { TextModel } from '../../ports/text-model.ts';
import { askForJson, type CheckResult, TransportBreaker } from './json-call.ts';

// GraphRAG-style entity and relation extraction (MEMORY-TRAINING.md A3): a document's chunks go in
// numbered batches of ≤ ~2k tokens, and every entity must be named in a chunk it cites, so the
// model cannot add people or places that are not in the text.

export interface DocumentToExtract {
  documentId: string;
  chunks: readonly { index: number; text: string }[];
}

export interface DocumentLlmExtraction {
  entities: ExtractedEntity[];
  relations: ExtractedRelation[];
  /** Batches of this document that got two invalid answers and yielded nothing. */
  failedBatches: number;
}

export interface ExtractWithModelOptions {
  /** Chunks sent per build at most; documents that do not fit are left out of the result. */
  budgetChunks: number;
  /** Estimated tokens (chars / 4) per batch; default 2,000. */
  batchTokens?: number;
  concurrency: number;
  signal?: AbortSignal;
  /** Transport failures in a row after which the remaining batches are not sent (default 3). */
  maxTransportFailures?: number;
}

export interface ExtractWithModelResult {
  /**
   * Documents the model covered. Absent: past the budget, or a batch of it could not be sent (the
   * model was down): the caller extracts those offline.
   */
  extractions: Map<string, DocumentLlmExtraction>;
  chunksSent: number;
  /** Batches that got two invalid answers. */
  failedBatches: number;
  /** Batches not answered because the model was down or refused. */
  transportFailures: number;
  calls: number;
  firstError: string | null;
}

interface Batch {
  documentId: string;
  chunks: { index: number; text: string }[];
}

interface BatchExtraction {
  entities: ExtractedEntity[];
  relations: ExtractedRelation[];
}

const SYSTEM = `You extract named entities and the relations between them from numbered chunks of one person's documents.
Entity types: ${ENTITY_TYPES.join(', ')}.
Only take entities that are named in the chunks, and copy each name exactly as it is written. Do not add anything the text does not say.
Answer with one JSON object and nothing else:
{"entities": [{"name": "as written", "type": "one of the types", "description": "what the chunks say about it, one sentence", "chunks": [numbers of the chunks that mention it]}],
 "relations": [{"source": "an entity name", "target": "another entity name", "description": "how they are related, from the text", "strength": 1 to 10, "chunks": [numbers of the chunks that say so]}]}
With nothing to extract, answer {"entities": [], "relations": []}.`;

const chunkNumbers = z.array(z.coerce.number().int()).catch([]);
const entitySchema = z.object({
  name: z.string().trim().min(1).max(200),
  type: z.string().catch('concept'),
  description: z.string().catch(''),
  chunks: chunkNumbers.default([]),
});
const relationSchema = z.object({
  source: z.string().trim().min(1),
  target: z.string().trim().min(1),
  description: z.string().catch(''),
  strength: z.coerce.number().catch(1),
  chunks: chunkNumbers.default([]),
});
// Items are checked one by one: one malformed entity should not cost the whole batch.
const answerSchema = z.object({
  entities: z.array(z.unknown()),
  relations: z.array(z.unknown()).default([]),
});

export async function extractWithModel(
  model: TextModel,
  documents: readonly DocumentToExtract[],
  options: ExtractWithModelOptions,
): Promise<ExtractWithModelResult> {
  const batchChars = (options.batchTokens ?? 2_000) * 4;
  const result: ExtractWithModelResult = {
    extractions: new Map(),
    chunksSent: 0,
    failedBatches: 0,
    transportFailures: 0,
    calls: 0,
    firstError: null,
  };
  const batches: Batch[] = [];
  for (const document of documents) {
    // a document is extracted whole or not at all; a smaller one further down may still fit
    if (document.chunks.length === 0 || result.chunksSent + document.chunks.length > options.budgetChunks)
      continue;
    result.chunksSent += document.chunks.length;
    batches.push(...batchesOf(document, batchChars));
    result.extractions.set(document.documentId, { entities: [], relations: [], failedBatches: 0 });
  }

  const breaker = new TransportBreaker(options.maxTransportFailures ?? 3);
  const unsent = new Set<string>();
  const answers = await pMap(
    batches,
    async (batch): Promise<BatchExtraction | null> => {
      if (breaker.open || unsent.has(batch.documentId)) {
        result.transportFailures++;
        unsent.add(batch.documentId);
        return null;
      }
      const outcome = await askForJson(model, {
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: batchPrompt(batch) },
        ],
        maxTokens: 1_500,
        temperature: 0,
        check: (json) => checkBatch(json, batch),
        signal: options.signal,
      });
      breaker.record(outcome);
      result.calls += outcome.calls;
      if (outcome.ok) return outcome.value;
      if (outcome.reason === 'transport') {
        result.transportFailures++;
        result.firstError ??= outcome.error;
        unsent.add(batch.documentId);
      } else {
        result.failedBatches++;
        result.extractions.get(batch.documentId)!.failedBatches++;
      }
      return null;
    },
    { concurrency: Math.max(1, options.concurrency), signal: options.signal },
  );

  for (const documentId of unsent) result.extractions.delete(documentId);
  const found = new Map<string, BatchExtraction>();
  answers.forEach((answer, i) => {
    const documentId = batches[i]!.documentId;
    if (!answer || !result.extractions.has(documentId)) return;
    const all = found.get(documentId) ?? { entities: [], relations: [] };
    all.entities.push(...answer.entities);
    all.relations.push(...answer.relations);
    found.set(documentId, all);
  });
  for (const [documentId, all] of found) {
    const target = result.extractions.get(documentId)!;
    target.entities = mergeEntities(all.entities);
    target.relations = mergeRelations(all.relations);
  }
  return result;
}

function batchesOf(document: DocumentToExtract, batchChars: number): Batch[] {
  const batches: Batch[] = [];
  let current: Batch = { documentId: document.documentId, chunks: [] };
  let chars = 0;
  for (const chunk of document.chunks) {
    const size = chunk.text.length + 16;
    if (current.chunks.length > 0 && chars + size > batchChars) {
      batches.push(current);
      current = { documentId: document.documentId, chunks: [] };
      chars = 0;
    }
    current.chunks.push({ index: chunk.index, text: chunk.text });
    chars += size;
  }
  if (current.chunks.length > 0) batches.push(current);
  return batches;
}

export function batchPrompt(batch: Pick<Batch, 'chunks'>): string {
  return batch.chunks.map((chunk) => `[chunk ${chunk.index}] ${chunk.text}`).join('\n\n');
}

function checkBatch(json: unknown, batch: Batch): CheckResult<BatchExtraction> {
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error) };
  const texts = new Map(batch.chunks.map((chunk) => [chunk.index, chunk.text.toLowerCase()]));

  const found = new Map<
    string,
    { name: string; type: EntityType; chunks: Set<number>; description: string }
  >();
  for (const item of parsed.data.entities) {
    const entity = entitySchema.safeParse(item);
    if (!entity.success) continue;
    const name = entity.data.name.replace(/\s+/g, ' ');
    const needle = name.toLowerCase();
    const cited = entity.data.chunks.filter((n) => texts.has(n));
    // no citation at all: the batch's chunks that name it; a wrong citation is not repaired
    const named = (cited.length > 0 ? cited : [...texts.keys()]).filter(
      (n) => occurrences(texts.get(n)!, needle) > 0,
    );
    if (named.length === 0) continue;
    const type = entityType(entity.data.type);
    const key = `${type}\u0000${needle}`;
    const seen = found.get(key) ?? { name, type, chunks: new Set<number>(), description: '' };
    for (const n of named) seen.chunks.add(n);
    seen.description ||= entity.data.description.trim();
    found.set(key, seen);
  }
  const merged: ExtractedEntity[] = [...found.values()].map((entity) => {
    const chunkIndexes = [...entity.chunks].sort((a, b) => a - b);
    const needle = entity.name.toLowerCase();
    return {
      name: entity.name,
      type: entity.type,
      chunkIndexes,
      mentions: chunkIndexes.reduce((n, i) => n + occurrences(texts.get(i)!, needle), 0),
      ...(entity.description ? { description: entity.description } : {}),
    };
  });

  const byName = new Map(merged.map((entity) => [entity.name.toLowerCase(), entity]));
  const relations: ExtractedRelation[] = [];
  for (const item of parsed.data.relations) {
    const relation = relationSchema.safeParse(item);
    if (!relation.success) continue;
    const source = byName.get(relation.data.source.replace(/\s+/g, ' ').toLowerCase());
    const target = byName.get(relation.data.target.replace(/\s+/g, ' ').toLowerCase());
    if (!source || !target || source === target) continue;
    const cited = relation.data.chunks.filter((n) => texts.has(n));
    const shared = source.chunkIndexes.filter((n) => target.chunkIndexes.includes(n));
    const chunkIndexes =
      cited.length > 0
        ? [...new Set(cited)].sort((a, b) => a - b)
        : shared.length > 0
          ? shared
          : [...new Set([...source.chunkIndexes, ...target.chunkIndexes])].sort((a, b) => a - b);
    relations.push({
      source: source.name,
      target: target.name,
      description: relation.data.description.trim(),
      weight: strengthOf(relation.data.strength),
      chunkIndexes,
    });
  }
  return { ok: true, value: { entities: merged, relations: mergeRelations(relations) } };
}

const strengthOf = (strength: number) =>
  Number.isFinite(strength) ? Math.min(10, Math.max(1, Math.round(strength))) : 1;

function entityType(type: string): EntityType {
  const lower = type.trim().toLowerCase();
  return (ENTITY_TYPES as readonly string[]).includes(lower) ? (lower as EntityType) : 'concept';
}

/** Occurrences of `needle` as whole words ("Al" is not in "also"); both lower-cased. */
function occurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
    const before = haystack[at - 1];
    const after = haystack[at + needle.length];
    if (!isWordChar(before) && !isWordChar(after)) count++;
  }
  return count;
}

const isWordChar = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

const unionSorted = (a: number[], b: number[]) => [...new Set([...a, ...b])].sort((x, y) => x - y);

// Within one document: the same name and type is one entity. Across documents and honorifics the
// build merges (A3 merging).
function mergeEntities(entities: ExtractedEntity[]): ExtractedEntity[] {
  const merged = new Map<string, ExtractedEntity>();
  for (const entity of entities) {
    const key = `${entity.type}\u0000${entity.name.toLowerCase()}`;
    const seen = merged.get(key);
    if (!seen) {
      merged.set(key, { ...entity, chunkIndexes: [...entity.chunkIndexes] });
      continue;
    }
    // batches do not share chunks, so their mentions add up
    seen.mentions += entity.mentions;
    seen.chunkIndexes = unionSorted(seen.chunkIndexes, entity.chunkIndexes);
    if (!seen.description && entity.description) seen.description = entity.description;
  }
  return [...merged.values()];
}

// GraphRAG sums the weights of a relation found more than once.
function mergeRelations(relations: ExtractedRelation[]): ExtractedRelation[] {
  const merged = new Map<string, ExtractedRelation>();
  for (const relation of relations) {
    const key = `${relation.source.toLowerCase()}\u0000${relation.target.toLowerCase()}`;
    const seen = merged.get(key);
    if (!seen) {
      merged.set(key, { ...relation, chunkIndexes: [...relation.chunkIndexes] });
      continue;
    }
    seen.weight += relation.weight;
    seen.chunkIndexes = unionSorted(seen.chunkIndexes, relation.chunkIndexes);
    if (!seen.description && relation.description) seen.description = relation.description;
  }
  return [...merged.values()];
}

// L2 training data (MEMORY-TRAINING.md B; the `prepare-training` job calls this, no GPU involved).
//
//   prepareTrainingData(deps, { userId, runId, l1Version, generator }, options?)
//     → { counts, keys, generator, l1Version, manifest }
//
// From a pinned L1 version (its S3 snapshot), the text of its chunks and the person's own chat
// turns (chat documents, twin replies removed), it writes under `training_data/L2/{runId}/`:
// raw_data/{preference,diversity,selfqa,abstention,merged}.json, mapping/*.json,
// training_inputs/{dataset,eval}.json and, last, training_inputs/manifest.json (counts, drops,
// sha256 of every file). `generator`: `llm` (the TextModel port), `template` (offline,
// `template-v1`) or `auto` (llm when a model is given). Idempotent: a rerun of the same run
// rewrites exactly the same keys, and with the template generator the same bytes.
// Throws NotEnoughMemoryError (too few usable chunks or training examples), NotFoundError (the
// L1 version has no snapshot) or InvalidInputError (a run id unfit for a key, llm without a model).

import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { Embedder } from '../ports/embedder.ts';
import type { DocumentsRepository } from '../ports/repositories.ts';
import type { TextModel } from '../ports/text-model.ts';
import { isStorageSafeId, l2Keys } from '../tenant-keys.ts';
import { abstentionPool } from './abstention.ts';
import {
  applyCaps,
  dedupe,
  distractorPool,
  emptyDrops,
  evalItem,
  groundingProblem,
  type Kept,
  recordId,
  renderRecord,
  split,
} from './assemble.ts';
import { llmDrafts } from './llm-generator.ts';
import { loadMaterial, type Material } from './material.ts';
import { CHUNK_MAPPING, ENTITY_MAPPING, rawFiles } from './raw-files.ts';
import {
  type Draft,
  type DropReason,
  type EvalItem,
  L2_TYPES,
  type L2Counts,
  type L2Manifest,
  type L2Type,
  TEMPLATE_GENERATOR,
  type TrainingRecord,
} from './records.ts';
import { templateDrafts } from './template-generator.ts';
import { NotEnoughMemoryError } from './training-data.errors.ts';

export type { EvalItem, L2Counts, L2Manifest, TrainingRecord } from './records.ts';
export { NotEnoughMemoryError } from './training-data.errors.ts';

export interface TrainingDataDeps {
  blobs: BlobStore;
  documents: Pick<DocumentsRepository, 'getMany'>;
  /** The LLM generator's model; null offline. */
  textModel: TextModel | null;
  /** For the near-duplicate check (cosine ≥ 0.95 of questions); without one, a bag-of-words cosine. */
  embedder?: Pick<Embedder, 'embed'> | null;
}

export interface TrainingDataOptions {
  /** L2_MAX_EXAMPLES */
  maxExamples: number;
  /** L2_MIN_CHUNKS */
  minChunks: number;
  /** L2_MIN_EXAMPLES */
  minExamples: number;
  /** The chat path's budgets (CHAT_CONTEXT_TOKENS, CHAT_HISTORY_TOKENS): the same prompt as served. */
  contextTokens: number;
  historyTokens: number;
  /** MEMORY_LLM_CONCURRENCY */
  llmConcurrency: number;
}

export const DEFAULT_TRAINING_DATA_OPTIONS: TrainingDataOptions = {
  maxExamples: 1000,
  minChunks: 6,
  minExamples: 20,
  contextTokens: 2000,
  historyTokens: 1000,
  llmConcurrency: 4,
};

export interface PrepareTrainingDataRequest {
  userId: string;
  runId: string;
  l1Version: string;
  generator: 'llm' | 'template' | 'auto';
  /** Seeds the split, the prompt variants and the refusals (default 42). */
  seed?: number;
  signal?: AbortSignal;
}

export interface TrainingDataKeys {
  dataset: string;
  eval: string;
  manifest: string;
  raw: Record<'preference' | 'diversity' | 'selfqa' | 'abstention' | 'merged', string>;
  mapping: string[];
}

export interface PreparedTrainingData {
  counts: L2Counts;
  keys: TrainingDataKeys;
  generator: L2Manifest['generator'];
  l1Version: string;
  manifest: L2Manifest;
}

const DEFAULT_SEED = 42;
const JSON_TYPE = { contentType: 'application/json' };

export async function prepareTrainingData(
  deps: TrainingDataDeps,
  request: PrepareTrainingDataRequest,
  options: TrainingDataOptions = DEFAULT_TRAINING_DATA_OPTIONS,
): Promise<PreparedTrainingData> {
  const { userId, runId, l1Version } = request;
  if (!isStorageSafeId(runId))
    throw new InvalidInputError(`invalid training run id: ${JSON.stringify(runId)}`);
  const seed = request.seed ?? DEFAULT_SEED;
  const useLlm = request.generator === 'llm' || (request.generator === 'auto' && deps.textModel !== null);
  if (useLlm && !deps.textModel)
    throw new InvalidInputError('the LLM generator was asked for, but no text model is configured');
  const generator: L2Manifest['generator'] = useLlm
    ? { kind: 'llm', name: deps.textModel!.name }
    : { kind: 'template', name: TEMPLATE_GENERATOR };

  const material = await loadMaterial(deps, userId, l1Version);
  const built = await generateTrainingData(material, {
    runId,
    seed,
    textModel: useLlm ? deps.textModel : null,
    embedder: deps.embedder ?? null,
    options,
    signal: request.signal,
  });
  const { files, counts } = built;

  const { blobs } = deps;
  // a rerun first takes the manifest away: a reader meanwhile sees the run incomplete, not torn
  await blobs.delete(userId, [l2Keys.manifest(runId)]);
  await Promise.all([...files].map(([key, body]) => blobs.put(userId, key, body, JSON_TYPE)));
  const manifest: L2Manifest = {
    runId,
    l1Version,
    generator,
    seed,
    counts,
    files: Object.fromEntries([...files].map(([key, body]) => [key, sha256(body)])),
  };
  await blobs.put(userId, l2Keys.manifest(runId), JSON.stringify(manifest, null, 2), JSON_TYPE);
  return {
    counts,
    keys: {
      dataset: l2Keys.dataset(runId),
      eval: l2Keys.eval(runId),
      manifest: l2Keys.manifest(runId),
      raw: {
        preference: l2Keys.raw(runId, 'preference'),
        diversity: l2Keys.raw(runId, 'diversity'),
        selfqa: l2Keys.raw(runId, 'selfqa'),
        abstention: l2Keys.raw(runId, 'abstention'),
        merged: l2Keys.raw(runId, 'merged'),
      },
      mapping: [l2Keys.mapping(runId, ENTITY_MAPPING), l2Keys.mapping(runId, CHUNK_MAPPING)],
    },
    generator,
    l1Version,
    manifest,
  };
}

export interface GeneratedTrainingData {
  /** Every file but the manifest: tenant-relative key → JSON text. */
  files: Map<string, string>;
  counts: L2Counts;
  dataset: TrainingRecord[];
  evalItems: EvalItem[];
}

/** The L2 data of a run from its material, without touching storage (the pure core). */
export async function generateTrainingData(
  material: Material,
  input: {
    runId: string;
    seed: number;
    /** The LLM generator's model; null: the template generator. */
    textModel: TextModel | null;
    embedder: Pick<Embedder, 'embed'> | null;
    options: TrainingDataOptions;
    signal?: AbortSignal;
  },
): Promise<GeneratedTrainingData> {
  const { runId, seed, options } = input;
  if (material.chunks.length < options.minChunks)
    throw new NotEnoughMemoryError('chunks', material.chunks.length, options.minChunks);

  const llm = input.textModel
    ? await llmDrafts(input.textModel, material, {
        concurrency: options.llmConcurrency,
        seed,
        signal: input.signal,
      })
    : null;
  const proposed = llm ? llm.drafts : templateDrafts(material);
  const refusals = abstentionPool(material, seed);
  const drops = emptyDrops();
  const dropped = new Map<Draft, DropReason>();
  const drop = (draft: Draft, reason: DropReason) => {
    drops[reason]++;
    dropped.set(draft, reason);
  };

  const grounded = [...proposed, ...refusals].filter((d) => {
    const problem = groundingProblem(d, material);
    if (problem) drop(d, problem);
    return !problem;
  });
  const vectors = input.embedder ? await embedQuestions(input.embedder, grounded, input.signal) : null;
  const unique = dedupe(grounded, vectors);
  const uniqueSet = new Set(unique.kept);
  grounded.forEach((d, i) => {
    if (!uniqueSet.has(i)) drop(d, 'duplicate');
  });
  const distinct = unique.kept.map((i) => grounded[i]!);
  const capped = applyCaps(
    distinct.filter((d) => d.type !== 'abstention'),
    distinct.filter((d) => d.type === 'abstention'),
    options.maxExamples,
  );
  const inCap = new Set(capped.drafts);
  // refusals beyond the ones needed are a pool, not proposals: not counted as dropped
  for (const d of distinct)
    if (!inCap.has(d)) d.type === 'abstention' ? dropped.set(d, 'cap') : drop(d, 'cap');
  const unusedRefusals = refusals.filter((d) => dropped.get(d) === 'cap').length;

  const kept: Kept[] = capped.drafts.map((draft) => ({ id: recordId(draft), draft }));
  const parts = split(kept, seed);
  const placed = new Set([...parts.train, ...parts.eval].map((k) => k.draft));
  for (const k of kept) if (!placed.has(k.draft)) drop(k.draft, 'split-overlap');
  drops['eval-cap'] = parts.evalCap;
  drops['split-overlap'] -= parts.evalCap;
  if (parts.train.length < options.minExamples)
    throw new NotEnoughMemoryError('examples', parts.train.length, options.minExamples);

  const evalChunks = new Set(parts.eval.flatMap((k) => k.draft.sourceChunkIds));
  const pool = distractorPool(
    material.chunks.filter((c) => !evalChunks.has(c.id)),
    seed,
  );
  const dataset = parts.train.map((k) =>
    renderRecord(k, material, pool, {
      seed,
      contextTokens: options.contextTokens,
      historyTokens: options.historyTokens,
    }),
  );
  const evalItems = parts.eval.map(evalItem);

  const counts: L2Counts = {
    train: dataset.length,
    eval: evalItems.length,
    byType: countTypes(dataset),
    evalByType: countTypes(evalItems),
    proposed: proposed.length + refusals.length - unusedRefusals,
    drops,
    byGenerator: countBy(dataset.map((r) => r.generator)),
    usableChunks: material.chunks.length,
    ...(llm && { llm: { calls: llm.calls, fallbacks: llm.fallbacks, invalidAnswers: llm.invalidAnswers } }),
  };
  const split01 = new Map<Draft, 'train' | 'eval'>([
    ...parts.train.map((k) => [k.draft, 'train'] as const),
    ...parts.eval.map((k) => [k.draft, 'eval'] as const),
  ]);
  const files = rawFiles(runId, material, [...proposed, ...refusals], dropped, split01);
  files.set(l2Keys.dataset(runId), json(dataset));
  files.set(l2Keys.eval(runId), json(evalItems));

  return { files, counts, dataset, evalItems };
}

/** The run's L2 manifest, or null while it has none (never prepared, or mid-write). */
export async function readTrainingDataManifest(
  blobs: BlobStore,
  userId: string,
  runId: string,
): Promise<L2Manifest | null> {
  try {
    return JSON.parse((await blobs.get(userId, l2Keys.manifest(runId))).toString('utf8')) as L2Manifest;
  } catch {
    return null;
  }
}

/** The run's held-out evaluation items (`eval.json`). */
export async function readEvalItems(blobs: BlobStore, userId: string, runId: string): Promise<EvalItem[]> {
  return JSON.parse((await blobs.get(userId, l2Keys.eval(runId))).toString('utf8')) as EvalItem[];
}

const json = (value: unknown) => JSON.stringify(value);
const sha256 = (body: string) => createHash('sha256').update(body).digest('hex');

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of [...values].sort()) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function countTypes(records: readonly { type: L2Type }[]): Record<L2Type, number> {
  const out = Object.fromEntries(L2_TYPES.map((t) => [t, 0])) as Record<L2Type, number>;
  for (const r of records) out[r.type]++;
  return out;
}

async function embedQuestions(
  embedder: Pick<Embedder, 'embed'>,
  drafts: readonly Draft[],
  signal?: AbortSignal,
): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < drafts.length; i += 256)
    out.push(
      ...(await embedder.embed(
        drafts.slice(i, i + 256).map((d) => d.question),
        signal,
      )),
    );
  return out;
}

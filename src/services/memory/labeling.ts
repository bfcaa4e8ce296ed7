import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../../logger.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { LabelSource } from '../ports/memory.ts';
import { PROJECTED_DIMS } from '../ports/memory.ts';
import type { TextModel } from '../ports/text-model.ts';
import type { ChunkItem, WorkCluster } from './clustering.ts';
import type { ComputePool } from './compute/compute-pool.ts';
import type { PackedTerms } from './compute/tasks.ts';
import { readChunkTexts } from './extraction-cache.ts';
import { labelClusters } from './llm/labels.ts';
import { mergeCounts } from './text/keywords.ts';
import { centralSentence } from './text/sentences.ts';

// Cluster labels (A2): c-TF-IDF keywords for every cluster, every build (they are cheap and come
// from cached counts); a label and summary only for clusters whose membership moved — from the
// LLM when one is configured, else the top keywords and the most central sentence. A cluster
// that did not move keeps its label, so a user's topics do not rename themselves on every upload.

export interface ClusterLabel {
  label: string;
  summary: string;
  keywords: string[];
  labelSource: LabelSource;
  representativeChunkIds: string[];
}

export interface ClusterLabels {
  byCluster: Map<string, ClusterLabel>;
  /** Each cluster's summed term counts, in cluster order (topics are labelled from them). */
  sums: Record<string, number>[];
  model: string;
  relabeled: number;
  failures: number;
}

export interface LabelingDeps {
  blobs: BlobStore;
  pool: ComputePool;
  textModel: TextModel | null;
  log: Logger;
}

const REPRESENTATIVES = 8;
const CANDIDATES = 24;
const MMR_LAMBDA = 0.7;
const YIELD_EVERY = 2000;

/** Summed term counts of a set of items (yielding to the event loop now and then). */
export async function termsOf(items: readonly ChunkItem[], members: readonly number[]) {
  const sum: Record<string, number> = {};
  for (let i = 0; i < members.length; i++) {
    mergeCounts(sum, items[members[i]!]!.terms);
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop();
  }
  return sum;
}

/** Centroid-nearest candidates, then maximal marginal relevance so the 8 are not near-copies. */
export function representatives(items: readonly ChunkItem[], cluster: WorkCluster, count = REPRESENTATIVES) {
  const d = PROJECTED_DIMS;
  const sim = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[j]! * b[j]!;
    return s;
  };
  const ranked = cluster.members
    .map((m) => ({ m, s: sim(items[m]!.projected, cluster.centroid) }))
    .sort((a, b) => b.s - a.s || a.m - b.m)
    .slice(0, CANDIDATES);
  const chosen: { m: number; s: number }[] = [];
  while (chosen.length < count && ranked.length) {
    let best = 0;
    let bestScore = -Infinity;
    ranked.forEach((c, i) => {
      const redundancy = chosen.length
        ? Math.max(...chosen.map((x) => sim(items[x.m]!.projected, items[c.m]!.projected)))
        : 0;
      const score = MMR_LAMBDA * c.s - (1 - MMR_LAMBDA) * redundancy;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    });
    chosen.push(ranked.splice(best, 1)[0]!);
  }
  return chosen.map((c) => c.m);
}

/** Packs cluster term counts for the compute thread, yielding to the event loop between clusters. */
export async function packTerms(sums: readonly Record<string, number>[]): Promise<PackedTerms> {
  const index = new Map<string, number>();
  const vocab: string[] = [];
  const ids: Int32Array[] = [];
  const counts: Float64Array[] = [];
  for (const sum of sums) {
    const terms = Object.keys(sum);
    const cIds = new Int32Array(terms.length);
    const cCounts = new Float64Array(terms.length);
    terms.forEach((term, i) => {
      let id = index.get(term);
      if (id === undefined) {
        id = vocab.length;
        index.set(term, id);
        vocab.push(term);
      }
      cIds[i] = id;
      cCounts[i] = sum[term]!;
    });
    ids.push(cIds);
    counts.push(cCounts);
    if (terms.length > 1000) await yieldToLoop();
  }
  return { vocab, ids, counts };
}

// One build packs its clusters' sums once: the labels and every level of the topic hierarchy ask
// for keywords from the same (never mutated) `sums`, and at 100k chunks packing a million terms
// took seconds each time. Each call gets copies of the typed arrays: the pool moves (detaches) them.
const packedSums = new WeakMap<readonly Record<string, number>[], Promise<PackedTerms>>();
async function packedOnce(sums: readonly Record<string, number>[]): Promise<PackedTerms> {
  let packed = packedSums.get(sums);
  if (!packed) {
    packed = packTerms(sums);
    packedSums.set(sums, packed);
  }
  const { vocab, ids, counts } = await packed;
  return { vocab, ids: ids.map((a) => a.slice()), counts: counts.map((a) => a.slice()) };
}

/** c-TF-IDF keywords in the compute thread: per cluster, or per group of clusters. */
export async function keywordsOf(
  pool: ComputePool,
  sums: readonly Record<string, number>[],
  groups?: number[][],
  topN = 10,
): Promise<string[][]> {
  if (!sums.length) return groups ? groups.map(() => []) : [];
  return pool.run('keywords', { terms: await packedOnce(sums), ...(groups ? { groups } : {}), topN });
}

/** The offline label: the top three keywords. */
export const keywordLabel = (keywords: readonly string[]) => keywords.slice(0, 3).join(', ') || 'untitled';

export async function labelWorkClusters(
  deps: LabelingDeps,
  userId: string,
  items: readonly ChunkItem[],
  clusters: readonly WorkCluster[],
  options: { concurrency: number; signal: AbortSignal },
): Promise<ClusterLabels> {
  const sums: Record<string, number>[] = [];
  for (const c of clusters) sums.push(await termsOf(items, c.members));
  const keywords = await keywordsOf(deps.pool, sums);
  const reps = clusters.map((c) => representatives(items, c));
  const byCluster = new Map<string, ClusterLabel>();
  const toLabel: { index: number; texts: string[] }[] = [];
  for (const [i, c] of clusters.entries()) {
    const representativeChunkIds = reps[i]!.map((m) => items[m]!.chunkId);
    if (!c.relabel && c.previous) {
      byCluster.set(c.id, {
        label: c.previous.label,
        summary: c.previous.summary,
        labelSource: c.previous.labelSource,
        keywords: keywords[i]!,
        representativeChunkIds,
      });
    } else toLabel.push({ index: i, texts: [] });
  }
  for (const entry of toLabel)
    entry.texts = (
      await readChunkTexts(
        deps.blobs,
        userId,
        reps[entry.index]!.map((m) => items[m]!),
      )
    ).map((t) => t ?? '');
  const offline = (i: number) => ({
    label: keywordLabel(keywords[i]!),
    summary: centralSentence(toLabel.find((t) => t.index === i)?.texts ?? [], keywords[i]!) ?? '',
  });
  let failures = 0;
  if (deps.textModel && toLabel.length) {
    const answers = await labelClusters(
      deps.textModel,
      toLabel.map((t) => ({ key: String(t.index), keywords: keywords[t.index]!, representatives: t.texts })),
      { concurrency: options.concurrency, signal: options.signal, fallback: (key) => offline(Number(key)) },
    );
    failures = answers.transportFailures + answers.invalidAnswers;
    for (const t of toLabel) {
      const a = answers.labels.get(String(t.index))!;
      byCluster.set(clusters[t.index]!.id, {
        label: a.label,
        summary: a.summary,
        labelSource: a.source,
        keywords: keywords[t.index]!,
        representativeChunkIds: reps[t.index]!.map((m) => items[m]!.chunkId),
      });
    }
    if (failures)
      deps.log.warn(
        { userId, failures },
        'memory labels: the model failed or answered badly for some clusters; keyword labels used there',
      );
  } else {
    for (const t of toLabel) {
      byCluster.set(clusters[t.index]!.id, {
        ...offline(t.index),
        labelSource: 'keywords',
        keywords: keywords[t.index]!,
        representativeChunkIds: reps[t.index]!.map((m) => items[m]!.chunkId),
      });
    }
  }
  return {
    byCluster,
    sums,
    model: deps.textModel ? `llm:${deps.textModel.name}` : 'c-tf-idf',
    relabeled: toLabel.length,
    failures,
  };
}

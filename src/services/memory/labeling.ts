import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../../logger.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import type { LabelSource } from '../ports/memory.ts';
import { PROJECTED_DIMS } from '../ports/memory.ts';
import type { TextModel } from '../ports/text-model.ts';
import type { ChunkItem, WorkCluster } from './clustering.ts';
import type { ComputePool } from './compute/compute-pool.ts';
import { takeTouched } from './compute/numeric.ts';
import type { PackedTerms } from './compute/tasks.ts';
import { readChunkTexts } from './extraction-cache.ts';
import { labelClusters } from './llm/labels.ts';
import type { PackedCounts } from './text/keywords.ts';
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

/**
 * The build's term vocabulary and each cluster's summed counts over it, in cluster order (topics
 * are labelled from them too). Typed arrays: at 100k chunks that is ~1M terms and 1.5M pairs.
 */
export interface ClusterTerms {
  index: Map<string, number>;
  vocab: string[];
  sums: PackedCounts[];
}

/**
 * What a worker keeps of a user's last build for the next one: the vocabulary and the sums of
 * each cluster by id. A cluster whose members did not change takes its sums from here instead of
 * re-adding its members' counts.
 */
export interface TermCarry {
  index: Map<string, number>;
  vocab: string[];
  byCluster: Map<string, PackedCounts>;
}

export function carryOf(terms: ClusterTerms, clusters: readonly WorkCluster[]): TermCarry {
  return {
    index: terms.index,
    vocab: terms.vocab,
    byCluster: new Map(clusters.map((c, i) => [c.id, terms.sums[i]!])),
  };
}

export interface ClusterLabels {
  byCluster: Map<string, ClusterLabel>;
  terms: ClusterTerms;
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

/**
 * Each cluster's summed term counts: taken from `carry` for a cluster whose members did not
 * change, else added up from its members' counts into a dense accumulator over the vocabulary
 * (which grows as new terms appear), yielding to the event loop now and then.
 */
export async function sumClusterTerms(
  items: readonly ChunkItem[],
  clusters: readonly WorkCluster[],
  carry: TermCarry | null,
): Promise<ClusterTerms> {
  const index = carry?.index ?? new Map<string, number>();
  const vocab = carry?.vocab ?? [];
  let acc = new Float64Array(Math.max(1 << 16, vocab.length * 2));
  const touched: number[] = [];
  const sums: PackedCounts[] = [];
  let added = 0;
  for (const c of clusters) {
    const kept = c.unchanged ? carry?.byCluster.get(c.id) : undefined;
    if (kept) {
      sums.push(kept);
      continue;
    }
    for (const m of c.members) {
      const { keys, counts: values } = items[m]!.terms;
      for (let t = 0; t < keys.length; t++) {
        const term = keys[t]!;
        let id = index.get(term);
        if (id === undefined) {
          id = vocab.length;
          index.set(term, id);
          vocab.push(term);
          if (id >= acc.length) {
            const grown = new Float64Array(acc.length * 2);
            grown.set(acc);
            acc = grown;
          }
        }
        if (acc[id] === 0) touched.push(id);
        acc[id]! += values[t]!;
      }
      if (++added % YIELD_EVERY === 0) await yieldToLoop();
    }
    sums.push(takeTouched(acc, touched));
  }
  return { index, vocab, sums };
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

// The vocabulary joined for the compute thread, once per vocabulary and extended as it grows: a
// carried vocabulary (~1M terms at 100k chunks) only gains the few terms an update brings.
const joined = new WeakMap<string[], { vocab: string; starts: Int32Array; size: number }>();
function joinedVocab(terms: ClusterTerms) {
  const list = terms.vocab;
  const had = joined.get(list);
  if (had && had.size === list.length) return had;
  const from = had?.size ?? 0;
  let starts = had?.starts ?? new Int32Array(0);
  if (starts.length < list.length + 1) {
    const grown = new Int32Array(Math.max(list.length + 1, Math.ceil((list.length + 1) * 1.25)));
    grown.set(starts);
    starts = grown;
  }
  for (let i = from; i < list.length; i++) starts[i + 1] = starts[i]! + list[i]!.length + 1;
  const added = list.slice(from).join('\n');
  const vocab = had && had.size > 0 ? (added ? `${had.vocab}\n${added}` : had.vocab) : added;
  const next = { vocab, starts, size: list.length };
  joined.set(list, next);
  return next;
}

/**
 * c-TF-IDF keywords in the compute thread: per cluster, or per group of clusters; only those in
 * `only` are scored (the rest come back empty).
 */
export async function keywordsOf(
  pool: ComputePool,
  terms: ClusterTerms,
  groups?: number[][],
  topN = 10,
  only?: number[],
): Promise<string[][]> {
  if (!terms.sums.length) return groups ? groups.map(() => []) : [];
  if (only && only.length === 0) return (groups ?? terms.sums).map(() => []);
  const { vocab, starts } = joinedVocab(terms);
  const packed: PackedTerms = {
    vocab,
    // the pool moves (detaches) the typed arrays it is given at the top level
    starts: starts.slice(0, terms.vocab.length + 1),
    ids: terms.sums.map((s) => s.ids),
    counts: terms.sums.map((s) => s.counts),
  };
  return pool.run('keywords', {
    terms: packed,
    ...(groups ? { groups } : {}),
    ...(only ? { only } : {}),
    topN,
  });
}

/** The offline label: the top three keywords. */
export const keywordLabel = (keywords: readonly string[]) => keywords.slice(0, 3).join(', ') || 'untitled';

export async function labelWorkClusters(
  deps: LabelingDeps,
  userId: string,
  items: readonly ChunkItem[],
  clusters: readonly WorkCluster[],
  options: { concurrency: number; signal: AbortSignal; incremental: boolean; carry: TermCarry | null },
): Promise<ClusterLabels> {
  const terms = await sumClusterTerms(items, clusters, options.carry);
  // an incremental update keeps the keywords of the clusters it did not touch (their counts are
  // the same; only f(t) moved by the little that changed), so only the touched ones are scored
  const kept = (c: WorkCluster) => options.incremental && c.unchanged && c.previous !== null;
  const scored = clusters.map((c, i) => (kept(c) ? -1 : i)).filter((i) => i >= 0);
  const keywords = await keywordsOf(
    deps.pool,
    terms,
    undefined,
    10,
    scored.length === clusters.length ? undefined : scored,
  );
  clusters.forEach((c, i) => {
    if (kept(c)) keywords[i] = c.previous!.keywords;
  });
  // representatives: an untouched cluster keeps its previous ones (never relabelled, their texts
  // are not read); the others are chosen anew
  const reps: number[][] = [];
  for (const c of clusters) {
    reps.push(kept(c) ? [] : representatives(items, c));
    if (reps.length % 25 === 0) await yieldToLoop();
  }
  const repIds = (i: number) =>
    kept(clusters[i]!)
      ? clusters[i]!.previous!.representativeChunkIds
      : reps[i]!.map((m) => items[m]!.chunkId);
  const byCluster = new Map<string, ClusterLabel>();
  const toLabel: { index: number; texts: string[] }[] = [];
  for (const [i, c] of clusters.entries()) {
    const representativeChunkIds = repIds(i);
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
        representativeChunkIds: repIds(t.index),
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
        representativeChunkIds: repIds(t.index),
      });
    }
  }
  return {
    byCluster,
    terms,
    model: deps.textModel ? `llm:${deps.textModel.name}` : 'c-tf-idf',
    relabeled: toLabel.length,
    failures,
  };
}

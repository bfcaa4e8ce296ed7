// The clustering maths as named tasks with plain, structured-clonable inputs and outputs, so the
// same function runs in the job worker's thread (tests, tiny corpora) or in the compute pool.

import { encodeColumns, type TableColumns } from '../snapshot/parquet.ts';
import { type PackedCounts, packedKeywords } from '../text/keywords.ts';
import { buildHierarchy, type TopicNode } from './hierarchy.ts';
import {
  assignToExisting,
  type ClusterStat,
  centroidsOf,
  clusterStats,
  type ExistingClusters,
  type IncrementalAssignment,
} from './incremental.ts';
import { type ClusterLeavesOptions, clusterLeaves, type LeafClustering } from './kmeans.ts';
import { takeTouched } from './numeric.ts';
import {
  assignToExistingSparse,
  clusterLeavesSparse,
  type SparseClusterOptions,
  type SparseLeafClustering,
  type SparseRows,
  similaritiesToOwn,
} from './sparse-kmeans.ts';

/**
 * Term counts of many clusters in a transferable form: the vocabulary as one string (terms
 * joined by newlines; one string clones far faster than a million), and per cluster the ids of its
 * terms and their counts. (300 clusters' counts as objects cost the sender as much to clone as
 * c-TF-IDF costs to run, and c-TF-IDF is what must leave the job's event loop.)
 */
export interface PackedTerms {
  vocab: string;
  /** Term id's text is vocab.slice(starts[id], starts[id + 1] − 1); V + 1 entries. */
  starts: Int32Array;
  ids: Int32Array[];
  counts: Float64Array[];
}

/** Per term id, 1 when its text holds a space (a bigram): one pass over the joined vocabulary. */
function bigramFlags(vocab: string, starts: Int32Array): Uint8Array {
  const flags = new Uint8Array(starts.length - 1);
  let id = 0;
  let at = vocab.indexOf(' ');
  while (at >= 0) {
    while (starts[id + 1]! - 1 <= at) id++;
    flags[id] = 1;
    at = vocab.indexOf(' ', starts[id + 1]!);
  }
  return flags;
}

/** Each group's summed counts (a dense accumulator over the vocabulary, cleared as it is read). */
function mergeGroups(terms: PackedTerms, groups: readonly number[][]): PackedCounts[] {
  const acc = new Float64Array(terms.starts.length - 1);
  const touched: number[] = [];
  return groups.map((members) => {
    for (const c of members) {
      const ids = terms.ids[c]!;
      const counts = terms.counts[c]!;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (acc[id] === 0) touched.push(id);
        acc[id]! += counts[i]!;
      }
    }
    return takeTouched(acc, touched);
  });
}

export interface ComputeTasks {
  cluster: {
    input: { points: Float32Array; n: number; d: number } & ClusterLeavesOptions;
    output: LeafClustering;
  };
  assign: {
    input: ExistingClusters & { points: Float32Array; n: number };
    output: IncrementalAssignment;
  };
  hierarchy: {
    input: { centroids: Float32Array; k: number; d: number; sizes: ArrayLike<number> };
    output: TopicNode[];
  };
  stats: {
    input: { points: Float32Array; n: number; d: number; assignment: Int32Array; k: number };
    output: { centroids: Float32Array; stats: ClusterStat[] };
  };
  /** A snapshot table's parquet file. */
  parquet: {
    input: { columns: TableColumns };
    output: Uint8Array;
  };
  /** Leaf clusters of sparse tf·idf rows (the lexical embedder's chunks). */
  sparseCluster: {
    input: { rows: SparseRows } & SparseClusterOptions;
    output: SparseLeafClustering;
  };
  /** New rows (`added`) against the centroids of the kept rows' clusters (assignment −1: not kept). */
  sparseAssign: {
    input: {
      rows: SparseRows;
      assignment: Int32Array;
      k: number;
      added: Int32Array;
      thresholds: Float32Array;
    };
    output: { assignment: Int32Array; similarity: Float32Array };
  };
  /** Each row's similarity to its cluster's centroid. */
  sparseSimilarity: {
    input: { rows: SparseRows; assignment: Int32Array; k: number };
    output: Float32Array;
  };
  /**
   * c-TF-IDF keywords per cluster, or per group of clusters (a topic) when groups are given; only
   * the clusters (groups) listed in `only` are scored (the others get []), f(t) is over all.
   */
  keywords: {
    input: { terms: PackedTerms; groups?: number[][]; only?: number[]; topN: number };
    output: string[][];
  };
}
export type TaskName = keyof ComputeTasks;
export type TaskInput<T extends TaskName> = ComputeTasks[T]['input'];
export type TaskOutput<T extends TaskName> = ComputeTasks[T]['output'];

export const TASK_NAMES: readonly TaskName[] = [
  'cluster',
  'assign',
  'hierarchy',
  'stats',
  'parquet',
  'sparseCluster',
  'sparseAssign',
  'sparseSimilarity',
  'keywords',
];

export function runTask<T extends TaskName>(task: T, input: TaskInput<T>): TaskOutput<T> {
  return runAny(task, input) as TaskOutput<T>;
}

function runAny(task: TaskName, input: unknown): unknown {
  switch (task) {
    case 'cluster': {
      const { points, n, d, ...options } = input as TaskInput<'cluster'>;
      return clusterLeaves(points, n, d, options);
    }
    case 'assign': {
      const { points, n, ...existing } = input as TaskInput<'assign'>;
      return assignToExisting(existing, points, n);
    }
    case 'hierarchy': {
      const { centroids, k, d, sizes } = input as TaskInput<'hierarchy'>;
      return buildHierarchy(centroids, k, d, sizes);
    }
    case 'stats': {
      const { points, n, d, assignment, k } = input as TaskInput<'stats'>;
      const centroids = centroidsOf(points, n, d, assignment, k);
      return { centroids, stats: clusterStats(points, n, d, assignment, k, centroids) };
    }
    case 'parquet':
      return encodeColumns((input as TaskInput<'parquet'>).columns);
    case 'sparseCluster': {
      const { rows, ...options } = input as TaskInput<'sparseCluster'>;
      return clusterLeavesSparse(rows, options);
    }
    case 'sparseAssign': {
      const { rows, assignment, k, added, thresholds } = input as TaskInput<'sparseAssign'>;
      return assignToExistingSparse(rows, assignment, k, added, thresholds);
    }
    case 'sparseSimilarity': {
      const { rows, assignment, k } = input as TaskInput<'sparseSimilarity'>;
      return similaritiesToOwn(rows, assignment, k);
    }
    case 'keywords': {
      const { terms, groups, only, topN } = input as TaskInput<'keywords'>;
      const table = {
        term: (id: number) => terms.vocab.slice(terms.starts[id]!, terms.starts[id + 1]! - 1),
        isBigram: bigramFlags(terms.vocab, terms.starts),
      };
      const clusters = groups
        ? mergeGroups(terms, groups)
        : terms.ids.map((ids, c) => ({ ids, counts: terms.counts[c]! }));
      return packedKeywords(table, clusters, topN, only);
    }
    default:
      throw new Error(`unknown compute task ${String(task)}`);
  }
}

/** The distinct ArrayBuffers of the typed arrays in `value` (two levels deep), to transfer. */
export function buffersOf(value: unknown, depth = 2, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.buffer.byteLength > 0) out.add(value.buffer);
  } else if (depth > 0 && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const v of Object.values(value)) buffersOf(v, depth - 1, out);
  }
  return [...out];
}

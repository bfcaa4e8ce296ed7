// The clustering maths as named tasks with plain, structured-clonable inputs and outputs, so the
// same function runs in the job worker's thread (tests, tiny corpora) or in the compute pool.
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
}
export type TaskName = keyof ComputeTasks;
export type TaskInput<T extends TaskName> = ComputeTasks[T]['input'];
export type TaskOutput<T extends TaskName> = ComputeTasks[T]['output'];

export const TASK_NAMES: readonly TaskName[] = ['cluster', 'assign', 'hierarchy', 'stats'];

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

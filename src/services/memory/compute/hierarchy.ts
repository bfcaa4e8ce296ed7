// Topics over the leaf clusters (MEMORY-TRAINING A4): average-linkage agglomerative clustering of
// the ≤ 300 centroids, kept as the full dendrogram and cut into a few top topics, and the larger
// ones into sub-topics. With k ≤ 300 the O(k³) merge loop takes milliseconds.
import { dotRows } from './numeric.ts';

export interface TopicNode {
  /** `t{depth}-{smallest cluster index under it}`: stable while the clusters are, so topics can be matched. */
  key: string;
  parent: string | null;
  depth: number;
  /** Every leaf cluster under this topic, ascending. */
  clusters: number[];
}

interface Dendrogram {
  /** Node i < k is cluster i; node k + m is the m-th merge, of `left[m]` and `right[m]`. */
  left: Int32Array;
  right: Int32Array;
}

/** UPGMA with cosine distance, each cluster weighted by its size; ties go to the lowest pair. */
function averageLinkage(centroids: Float32Array, k: number, d: number, sizes: ArrayLike<number>): Dendrogram {
  const dist = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      const v = 1 - dotRows(centroids, a, centroids, b, d);
      dist[a * k + b] = v;
      dist[b * k + a] = v;
    }
  }
  const weight = Float64Array.from({ length: k }, (_, c) => Math.max(1, sizes[c] ?? 1));
  const node = Int32Array.from({ length: k }, (_, c) => c);
  const active = new Uint8Array(k).fill(1);
  const left = new Int32Array(Math.max(0, k - 1));
  const right = new Int32Array(Math.max(0, k - 1));
  for (let m = 0; m < k - 1; m++) {
    let best = Infinity;
    let ba = -1;
    let bb = -1;
    for (let a = 0; a < k; a++) {
      if (!active[a]) continue;
      for (let b = a + 1; b < k; b++) {
        if (active[b] && dist[a * k + b]! < best) {
          best = dist[a * k + b]!;
          ba = a;
          bb = b;
        }
      }
    }
    left[m] = node[ba]!;
    right[m] = node[bb]!;
    const wa = weight[ba]!;
    const wb = weight[bb]!;
    for (let c = 0; c < k; c++) {
      if (!active[c] || c === ba || c === bb) continue;
      const v = (wa * dist[ba * k + c]! + wb * dist[bb * k + c]!) / (wa + wb);
      dist[ba * k + c] = v;
      dist[c * k + ba] = v;
    }
    weight[ba] = wa + wb;
    node[ba] = k + m;
    active[bb] = 0;
  }
  return { left, right };
}

/** Splits `root` into `parts` subtrees by undoing its latest merges (parents always merge later). */
function cut(tree: Dendrogram, k: number, root: number, parts: number): number[] {
  const frontier = [root];
  while (frontier.length < parts) {
    let at = -1;
    for (let i = 0; i < frontier.length; i++) {
      if (frontier[i]! >= k && (at < 0 || frontier[i]! > frontier[at]!)) at = i;
    }
    if (at < 0) break;
    const m = frontier[at]! - k;
    frontier.splice(at, 1, tree.left[m]!, tree.right[m]!);
  }
  return frontier;
}

function leavesOf(tree: Dendrogram, k: number, root: number): number[] {
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const v = stack.pop()!;
    if (v < k) out.push(v);
    else stack.push(tree.left[v - k]!, tree.right[v - k]!);
  }
  return out.sort((a, b) => a - b);
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const SUBTOPIC_MIN_CLUSTERS = 6;

/** Top topics (depth 0) and, for those of ≥ 6 clusters, sub-topics (depth 1), ordered by key. */
export function buildHierarchy(
  centroids: Float32Array,
  k: number,
  d: number,
  sizes: ArrayLike<number>,
): TopicNode[] {
  if (k <= 0) return [];
  const tree = averageLinkage(centroids, k, d, sizes);
  const root = k === 1 ? 0 : 2 * k - 2;
  const topParts = k <= 3 ? k : Math.min(k, clamp(Math.round(Math.sqrt(k)), 3, 12));
  const tops = cut(tree, k, root, topParts)
    .map((v) => ({ v, clusters: leavesOf(tree, k, v) }))
    .sort((a, b) => a.clusters[0]! - b.clusters[0]!);
  const nodes: TopicNode[] = [];
  const children: TopicNode[] = [];
  for (const top of tops) {
    const key = `t0-${top.clusters[0]}`;
    nodes.push({ key, parent: null, depth: 0, clusters: top.clusters });
    const m = top.clusters.length;
    if (m < SUBTOPIC_MIN_CLUSTERS) continue;
    const subs = cut(tree, k, top.v, clamp(Math.round(Math.sqrt(m)), 2, 6))
      .map((v) => leavesOf(tree, k, v))
      .sort((a, b) => a[0]! - b[0]!);
    for (const clusters of subs) children.push({ key: `t1-${clusters[0]}`, parent: key, depth: 1, clusters });
  }
  return [...nodes, ...children];
}

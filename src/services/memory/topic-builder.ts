import { createHash } from 'node:crypto';
import type { ClusterRow, MemorySnapshot, TopicRow } from '../ports/memory.ts';
import { PROJECTED_DIMS } from '../ports/memory.ts';
import type { TextModel } from '../ports/text-model.ts';
import type { ChunkItem, WorkCluster } from './clustering.ts';
import type { ComputePool } from './compute/compute-pool.ts';
import { matchByJaccard } from './compute/matching.ts';
import type { ClusterLabels } from './labeling.ts';
import { keywordLabel, keywordsOf as poolKeywords } from './labeling.ts';
import { labelClusters } from './llm/labels.ts';

// The topic hierarchy (A4): average linkage over the cluster centroids (milliseconds: at most a
// few hundred of them), cut into a handful of top topics, each larger one split once more; the
// clusters are its leaves. Topic ids survive a rebuild by matching member clusters to the previous
// version's topics, as cluster ids do; a topic whose clusters did not change keeps its label.

const topicIdOf = (depth: number, clusterIds: readonly string[]) =>
  `t${depth}-${createHash('sha1')
    .update([...clusterIds].sort().join(','))
    .digest('hex')
    .slice(0, 12)}`;

export async function buildTopics(
  pool: ComputePool,
  items: readonly ChunkItem[],
  clusters: readonly WorkCluster[],
  labels: ClusterLabels,
  previous: MemorySnapshot | null,
  options: { textModel: TextModel | null; concurrency: number; signal: AbortSignal; incremental: boolean },
): Promise<{ topics: TopicRow[]; clusterRows: ClusterRow[] }> {
  const k = clusters.length;
  if (k === 0) return { topics: [], clusterRows: [] };
  const d = PROJECTED_DIMS;
  const centroids = new Float32Array(k * d);
  clusters.forEach((c, i) => {
    centroids.set(c.centroid, i * d);
  });
  const sizes = Int32Array.from(clusters, (c) => c.members.length);
  const nodes = await pool.run('hierarchy', { centroids, k, d, sizes });

  // ids: matched per depth against the previous version's topics by their clusters
  const byKey = new Map<string, string>();
  const depths = [...new Set(nodes.map((n) => n.depth))].sort();
  for (const depth of depths) {
    const level = nodes.filter((n) => n.depth === depth);
    const memberIds = level.map((n) => n.clusters.map((c) => clusters[c]!.id));
    const old = new Map(
      (previous?.topics ?? [])
        .filter((t) => t.depth === depth)
        .map((t) => [t.topicId, t.clusterIds] as const),
    );
    const matched = old.size ? matchByJaccard(old, memberIds, 0.5) : memberIds.map(() => null);
    const used = new Set<string>();
    level.forEach((n, i) => {
      let id = matched[i] ?? topicIdOf(depth, memberIds[i]!);
      if (used.has(id)) id = topicIdOf(depth, memberIds[i]!);
      used.add(id);
      byKey.set(n.key, id);
    });
  }

  // keywords per topic from its clusters' counts, c-TF-IDF among the topics of its level (in the
  // compute thread: merging hundreds of clusters' counts would hold the job's event loop). An
  // incremental update keeps the keywords of a topic whose clusters are the same, each unchanged.
  const prevTopics = new Map((previous?.topics ?? []).map((t) => [t.topicId, t]));
  const keptTopic = (n: (typeof nodes)[number]) => {
    const old = prevTopics.get(byKey.get(n.key)!);
    if (!options.incremental || !old || n.clusters.some((c) => !clusters[c]!.unchanged)) return null;
    const ids = n.clusters.map((c) => clusters[c]!.id).sort();
    return old.clusterIds.join(',') === ids.join(',') ? old : null;
  };
  const keywordsOf = new Map<number, string[]>();
  for (const depth of depths) {
    const indexes = nodes.map((n, i) => (n.depth === depth ? i : -1)).filter((i) => i >= 0);
    const kept = indexes.map((i) => keptTopic(nodes[i]!));
    const only = indexes.map((_, j) => (kept[j] ? -1 : j)).filter((j) => j >= 0);
    const kw = await poolKeywords(
      pool,
      labels.terms,
      indexes.map((i) => nodes[i]!.clusters),
      10,
      only.length === indexes.length ? undefined : only,
    );
    indexes.forEach((i, j) => {
      keywordsOf.set(i, kept[j]?.keywords ?? kw[j]!);
    });
  }

  const size = (n: (typeof nodes)[number]) => n.clusters.reduce((s, c) => s + clusters[c]!.members.length, 0);
  const topics: TopicRow[] = nodes.map((n, i) => {
    const topicId = byKey.get(n.key)!;
    const clusterIds = n.clusters.map((c) => clusters[c]!.id).sort();
    const old = prevTopics.get(topicId);
    const unchanged =
      old &&
      old.clusterIds.join(',') === clusterIds.join(',') &&
      !n.clusters.some((c) => clusters[c]!.relabel);
    const biggest = [...n.clusters].sort(
      (a, b) => clusters[b]!.members.length - clusters[a]!.members.length,
    )[0]!;
    return {
      topicId,
      parentId: n.parent ? (byKey.get(n.parent) ?? null) : null,
      depth: n.depth,
      label: unchanged ? old.label : keywordLabel(keywordsOf.get(i)!),
      summary: unchanged ? old.summary : (labels.byCluster.get(clusters[biggest]!.id)?.summary ?? ''),
      keywords: keywordsOf.get(i)!,
      clusterIds,
      size: size(n),
    };
  });

  // with an LLM, topics that changed are named from their clusters' labels and summaries
  if (options.textModel) {
    const changed = topics
      .map((t, i) => ({ t, i }))
      .filter(({ t }) => !prevTopics.get(t.topicId) || prevTopics.get(t.topicId)!.label !== t.label);
    if (changed.length) {
      const answers = await labelClusters(
        options.textModel,
        changed.map(({ i }) => ({
          key: String(i),
          keywords: keywordsOf.get(i)!,
          representatives: nodes[i]!.clusters.slice(0, 8)
            .map((c) => {
              const l = labels.byCluster.get(clusters[c]!.id);
              return l ? `${l.label}: ${l.summary}` : '';
            })
            .filter(Boolean),
        })),
        {
          concurrency: options.concurrency,
          signal: options.signal,
          fallback: (key) => ({ label: topics[Number(key)]!.label, summary: topics[Number(key)]!.summary }),
        },
      );
      for (const { t, i } of changed) {
        const a = answers.labels.get(String(i));
        if (a && a.source === 'llm') {
          t.label = a.label;
          t.summary = a.summary;
        }
      }
    }
  }

  // each cluster's row, under its deepest topic
  const deepest = new Map<number, { depth: number; id: string }>();
  nodes.forEach((n) => {
    for (const c of n.clusters) {
      const cur = deepest.get(c);
      if (!cur || n.depth > cur.depth) deepest.set(c, { depth: n.depth, id: byKey.get(n.key)! });
    }
  });
  const clusterRows = clusters.map((c, i): ClusterRow => {
    const l = labels.byCluster.get(c.id)!;
    let subjective = 0;
    for (const m of c.members) if (items[m]!.perspective === 'subjective') subjective++;
    return {
      clusterId: c.id,
      topicId: deepest.get(i)?.id ?? '',
      size: c.members.length,
      label: l.label,
      summary: l.summary,
      keywords: l.keywords,
      labelSource: l.labelSource,
      representativeChunkIds: l.representativeChunkIds,
      centroid: Array.from(c.centroid, (x) => Math.round(x * 1e6) / 1e6),
      cohesion: Math.round(c.cohesion * 1e4) / 1e4,
      subjectiveShare: Math.round((subjective / c.members.length) * 1e4) / 1e4,
    };
  });
  topics.sort((a, b) => a.depth - b.depth || b.size - a.size || (a.topicId < b.topicId ? -1 : 1));
  return { topics, clusterRows };
}

import {
  clusterTopic,
  type InVersion,
  topicChildren,
  topicClusters,
  topicParent,
} from '../resolvers/memory.resolver.ts';
import type { TopicRow } from '../services/ports/memory.ts';
import { builder } from './builder.ts';
import { MemoryClusterRef } from './memory-cluster.ts';

export const TopicRef = builder.objectRef<InVersion<TopicRow>>('Topic');

TopicRef.implement({
  description:
    'A node of the hierarchy over clusters: depth 0 are the broad themes, their children narrower ' +
    'ones, down to clusters of chunks.',
  fields: (t) => ({
    id: t.id({ description: 'Stable across versions while the topic lasts.', resolve: (r) => r.topicId }),
    label: t.exposeString('label', { description: 'A short name for the theme.' }),
    summary: t.exposeString('summary', { description: 'A sentence or two on what it covers.' }),
    keywords: t.exposeStringList('keywords', { description: 'Most distinctive terms first (c-TF-IDF).' }),
    size: t.exposeInt('size', { description: 'Chunks under this topic.' }),
    depth: t.exposeInt('depth', { description: '0 for the top level.' }),
    parent: t.field({
      type: TopicRef,
      nullable: true,
      description: 'The broader topic; null at depth 0.',
      resolve: topicParent,
    }),
    children: t.field({ type: [TopicRef], description: 'Direct subtopics.', resolve: topicChildren }),
    clusters: t.field({
      type: [MemoryClusterRef],
      description: 'Every leaf cluster under this topic, not only its direct ones.',
      resolve: topicClusters,
    }),
  }),
});

// here rather than in memory-cluster.ts, so the two files do not import each other
builder.objectField(MemoryClusterRef, 'topic', (t) =>
  t.field({
    type: TopicRef,
    nullable: true,
    description: 'The lowest topic holding it.',
    resolve: clusterTopic,
  }),
);

import { chunkDocument, chunkText, clusterChunks, type InVersion } from '../resolvers/memory.resolver.ts';
import { InvalidInputError } from '../services/errors.ts';
import type { ChunkAssignment, ClusterRow } from '../services/ports/memory.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import { upperCaseValues } from './enum-values.ts';
import { PerspectiveEnum } from './perspective.ts';

const LabelSourceEnum = builder.enumType('LabelSource', {
  description: 'LLM: named by the chat model; KEYWORDS: its top keywords (offline, or the model failed).',
  values: upperCaseValues(['llm', 'keywords'] as const),
});

const MemoryChunkRef = builder.objectRef<ChunkAssignment>('MemoryChunk').implement({
  description: "A document chunk's place in its cluster.",
  fields: (t) => ({
    documentId: t.exposeID('documentId', { description: 'The document the chunk is from.' }),
    chunkIndex: t.exposeInt('chunkIndex', { description: 'Its 0-based position in the document.' }),
    similarity: t.exposeFloat('similarity', { description: "Cosine similarity to the cluster's centre." }),
    isOutlier: t.exposeBoolean('isOutlier', { description: 'Among the least similar 5% of all chunks.' }),
    perspective: t.field({
      type: PerspectiveEnum,
      description: 'SUBJECTIVE or OBJECTIVE, as the build decided.',
      resolve: (c) => c.perspective,
    }),
    document: t.field({
      type: DocumentRef,
      nullable: true,
      description: 'Null when the document was deleted after the build.',
      resolve: chunkDocument,
    }),
    text: t.string({ description: 'Empty when the chunk is gone from storage.', resolve: chunkText }),
  }),
});

export const MemoryClusterRef = builder.objectRef<InVersion<ClusterRow>>('MemoryCluster');

MemoryClusterRef.implement({
  description: 'A group of chunks about one thing, the leaves of the topic hierarchy.',
  fields: (t) => ({
    id: t.id({
      description: 'Stable across versions: a cluster kept or matched keeps its id and label.',
      resolve: (c) => c.clusterId,
    }),
    label: t.exposeString('label', { description: 'A short name for what the chunks share.' }),
    summary: t.exposeString('summary', { description: 'A sentence or two on what it covers.' }),
    keywords: t.exposeStringList('keywords', { description: 'Most distinctive terms first (c-TF-IDF).' }),
    labelSource: t.field({
      type: LabelSourceEnum,
      description: 'Who named it.',
      resolve: (c) => c.labelSource,
    }),
    size: t.exposeInt('size', { description: 'Member chunks.' }),
    cohesion: t.exposeFloat('cohesion', { description: 'Mean similarity of members to the centre, 0..1.' }),
    subjectiveShare: t.exposeFloat('subjectiveShare', {
      description: "Share of members from the person's own words, 0..1.",
    }),
    chunks: t.connection({
      type: MemoryChunkRef,
      description:
        'Member chunks, most similar to the centre first. Pages forward: a bad cursor, `last` or ' +
        '`before` is InvalidInput.',
      errors: { types: [InvalidInputError], directResult: true },
      resolve: clusterChunks,
    }),
  }),
});

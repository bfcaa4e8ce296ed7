// L1 memory (MEMORY-TRAINING.md part A): the record shapes every part of a build, the repository
// port and the API share (plain data, as document.ts is for documents). A version is a
// snapshot in S3 (`memory/l1/{version}/`, parquet + bio.json + manifest.json written last) and the
// same rows mirrored into PostgreSQL for GraphQL. Ids are stable across versions: a cluster kept
// by an incremental update or matched by a full rebuild keeps its id and label.

export const MEMORY_STAGES = [
  'QUEUED',
  'VECTORS',
  'CLUSTERING',
  'LABELING',
  'ENTITIES',
  'HIERARCHY',
  'BIO',
  'WRITING',
  'DONE',
  'FAILED',
] as const;
export type MemoryStage = (typeof MEMORY_STAGES)[number];

export type Perspective = 'subjective' | 'objective';
export type PerspectiveSetting = 'auto' | Perspective;
export type LabelSource = 'llm' | 'keywords';
export const ENTITY_TYPES = ['person', 'organization', 'place', 'event', 'object', 'concept'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];
export type ExtractorSource = 'llm' | 'compromise';
export type BuildMode = 'full' | 'incremental';

/** `{documentId}:{chunkIndex}`: a chunk's id in every L1 table (GraphRAG's text unit id). */
export const chunkIdOf = (documentId: string, chunkIndex: number) => `${documentId}:${chunkIndex}`;
export function parseChunkId(id: string): { documentId: string; chunkIndex: number } | null {
  const at = id.lastIndexOf(':');
  const index = Number(id.slice(at + 1));
  return at > 0 && Number.isInteger(index) && index >= 0
    ? { documentId: id.slice(0, at), chunkIndex: index }
    : null;
}

/** `chunks.parquet`: one row per chunk of every processed document. */
export interface ChunkAssignment {
  chunkId: string;
  documentId: string;
  chunkIndex: number;
  textSha: string;
  perspective: Perspective;
  /** ISO time the document was uploaded. */
  createdAt: string;
  clusterId: string;
  /** Cosine similarity to its cluster's centroid (projected space). */
  similarity: number;
  isOutlier: boolean;
}

/** `clusters.parquet`: a leaf cluster of chunks. */
export interface ClusterRow {
  clusterId: string;
  topicId: string;
  size: number;
  label: string;
  summary: string;
  keywords: string[];
  labelSource: LabelSource;
  representativeChunkIds: string[];
  /** Unit vector in the projected space (PROJECTED_DIMS). */
  centroid: number[];
  /** Mean similarity of members to the centroid. */
  cohesion: number;
  /** Share of members from subjective documents, 0..1. */
  subjectiveShare: number;
}

/** `topics.parquet`: a node of the hierarchy over cluster centroids; depth 0 is the top level. */
export interface TopicRow {
  topicId: string;
  parentId: string | null;
  depth: number;
  label: string;
  summary: string;
  keywords: string[];
  /** Every leaf cluster under this topic (not only direct ones). */
  clusterIds: string[];
  /** Chunks under this topic. */
  size: number;
}

/** `entities.parquet` (GraphRAG columns plus ours). */
export interface EntityRow {
  id: string;
  title: string;
  type: EntityType;
  description: string;
  /** Chunk ids the entity was found in (its evidence). */
  textUnitIds: string[];
  documentIds: string[];
  mentionCount: number;
  source: ExtractorSource;
}

/** `relations.parquet`: source and target are entity ids. */
export interface RelationRow {
  id: string;
  source: string;
  target: string;
  description: string;
  weight: number;
  textUnitIds: string[];
}

/** `bio.json`; the chat path reads it (prompt.ts bioText) as it is. */
export interface Bio {
  version: string;
  generatedBy: 'llm' | 'offline';
  secondPerson: string;
  thirdPerson: string;
  /** What the person wrote about in the last 30 days. */
  status: string;
  topics: { id: string; label: string; share: number }[];
  sourceChunkIds: string[];
}

export interface Manifest {
  version: string;
  parent: string | null;
  mode: BuildMode;
  createdAt: string;
  params: Record<string, unknown>;
  seed: number;
  counts: {
    documents: number;
    chunks: number;
    clusters: number;
    topics: number;
    entities: number;
    relations: number;
    outliers: number;
  };
  models: { embedding: string; projection: string; labeler: string; extractor: string; bio: string };
}

export interface MemorySnapshot {
  manifest: Manifest;
  chunks: ChunkAssignment[];
  clusters: ClusterRow[];
  topics: TopicRow[];
  entities: EntityRow[];
  relations: RelationRow[];
  bio: Bio;
}

const chunkIndexes = new WeakMap<readonly ChunkAssignment[], Map<string, ChunkAssignment>>();

/**
 * The snapshot's assignments by chunk id, made once per snapshot (rows are never mutated): an
 * update asks it several times, and at 100k chunks each Map took the worker's loop ~60 ms.
 */
export function chunkIndexOf(snapshot: Pick<MemorySnapshot, 'chunks'>): Map<string, ChunkAssignment> {
  let index = chunkIndexes.get(snapshot.chunks);
  if (!index) {
    index = new Map(snapshot.chunks.map((c) => [c.chunkId, c]));
    chunkIndexes.set(snapshot.chunks, index);
  }
  return index;
}

/** A snapshot's manifest counts, derived from its rows so the two can never disagree. */
export function countsOf(
  tables: Pick<MemorySnapshot, 'chunks' | 'clusters' | 'topics' | 'entities' | 'relations'>,
): Manifest['counts'] {
  return {
    documents: new Set(tables.chunks.map((c) => c.documentId)).size,
    chunks: tables.chunks.length,
    clusters: tables.clusters.length,
    topics: tables.topics.length,
    entities: tables.entities.length,
    relations: tables.relations.length,
    outliers: tables.chunks.filter((c) => c.isOutlier).length,
  };
}

// ---- the per-document cache `memory/extractions/{documentId}.json` (A7) ----

/** Bumped when what the cache holds is computed differently: older caches are rebuilt. */
export const EXTRACTION_VERSION = 2;
export const PROJECTED_DIMS = 128;

export interface ExtractedEntity {
  /** As written in the text, honorifics kept ("Dr. Maria Chen"). */
  name: string;
  type: EntityType;
  /** Chunk indexes of this document that mention it. */
  chunkIndexes: number[];
  mentions: number;
  description?: string;
}

export interface ExtractedRelation {
  /** Entity names as in `entities`. */
  source: string;
  target: string;
  /** "sister", "co-occurs", or the LLM's description. */
  description: string;
  weight: number;
  chunkIndexes: number[];
}

/**
 * A chunk's term counts as two parallel arrays: what a worker holds between builds instead of an
 * object per chunk (100k dictionary-mode objects were ~300 MB of heap, and the collector traced
 * every one of them on each major GC).
 */
export interface TermList {
  keys: string[];
  counts: Float32Array;
}

export function termListOf(terms: Readonly<Record<string, number>>): TermList {
  const keys = Object.keys(terms);
  return { keys, counts: Float32Array.from(keys, (k) => terms[k]!) };
}

/** `T`: the term counts as stored (an object); a worker holds them as TermLists. */
export interface ChunkExtraction<T = Record<string, number>> {
  index: number;
  textSha: string;
  /**
   * Unit vector, PROJECTED_DIMS long, rounded to 4 decimals; empty for the lexical sketch of the
   * offline embedder, which each build makes from the terms with the corpus's weights.
   */
  projected: number[];
  /** Unigram and bigram counts, stopwords removed. */
  terms: T;
  /** First-person pronouns / words, for perspective. */
  firstPerson: number;
  words: number;
}

export interface DocumentExtraction<T = Record<string, number>> {
  version: number;
  documentId: string;
  /** The ingest job whose chunks this describes: another job's (a reprocess) invalidates it. */
  ingestJobId: string;
  embeddingModel: string;
  projection: string;
  extractor: ExtractorSource;
  kind: 'document' | 'chat';
  createdAt: string;
  chunks: ChunkExtraction<T>[];
  entities: ExtractedEntity[];
  relations: ExtractedRelation[];
}

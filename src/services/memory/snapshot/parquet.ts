import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer, type SchemaElement } from 'hyparquet-writer';
import type { ChunkAssignment, ClusterRow, EntityRow, RelationRow, TopicRow } from '../../ports/memory.ts';

// The parquet tables of an L1 snapshot (MEMORY-TRAINING.md A7), snake_case columns, every schema
// explicit: inferred types drift with the data (an all-integer DOUBLE column, an empty table).
// Lists are the standard 3-level LIST (`name` LIST → repeated `list` → required `element`), which
// pyarrow reads as list<element: …>. `created_at` is an ISO-8601 UTF8 string, not a TIMESTAMP: it
// round-trips exactly what the build wrote, and every reader parses ISO. Centroids are FLOAT
// (float32): the decoded values are the float32 roundings of what was written.

export type ColumnKind =
  | 'STRING'
  | 'OPTIONAL_STRING'
  | 'INT32'
  | 'DOUBLE'
  | 'BOOLEAN'
  | 'LIST_STRING'
  | 'LIST_FLOAT';

export interface ColumnSpec<R> {
  name: string;
  kind: ColumnKind;
  get(row: R): unknown;
}

export interface TableSpec<R> {
  /** The file name in a snapshot (`chunks.parquet`). */
  file: string;
  columns: ColumnSpec<R>[];
  fromRecord(record: Record<string, unknown>): R;
}

function schemaOf(kind: ColumnKind, name: string): SchemaElement[] {
  const list = (element: SchemaElement): SchemaElement[] => [
    { name, repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    element,
  ];
  switch (kind) {
    case 'STRING':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }];
    case 'OPTIONAL_STRING':
      return [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }];
    case 'INT32':
      return [{ name, type: 'INT32', repetition_type: 'REQUIRED' }];
    case 'DOUBLE':
      return [{ name, type: 'DOUBLE', repetition_type: 'REQUIRED' }];
    case 'BOOLEAN':
      return [{ name, type: 'BOOLEAN', repetition_type: 'REQUIRED' }];
    case 'LIST_STRING':
      return list({
        name: 'element',
        type: 'BYTE_ARRAY',
        converted_type: 'UTF8',
        repetition_type: 'REQUIRED',
      });
    case 'LIST_FLOAT':
      return list({ name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' });
  }
}

function columnData(kind: ColumnKind, values: unknown[]) {
  // typed arrays skip the writer's per-value type checks on the large numeric columns
  if (kind === 'INT32') return Int32Array.from(values as number[]);
  if (kind === 'DOUBLE') return Float64Array.from(values as number[]);
  return values;
}

/** A table as columns of plain values (typed arrays for the numbers): what encodeColumns writes. */
export type TableColumns = { name: string; kind: ColumnKind; data: unknown[] | Int32Array | Float64Array }[];

export function tableColumns<R>(spec: TableSpec<R>, rows: readonly R[]): TableColumns {
  return spec.columns.map((c) => ({
    name: c.name,
    kind: c.kind,
    data: columnData(
      c.kind,
      rows.map((r) => c.get(r)),
    ),
  }));
}

/** The parquet file of the columns (plain data, so a worker thread can write it). */
export function encodeColumns(columns: TableColumns): Uint8Array {
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }];
  for (const c of columns) schema.push(...schemaOf(c.kind, c.name));
  const buffer = parquetWriteBuffer({
    columnData: columns.map((c) => ({ name: c.name, data: c.data })),
    schema,
    createdBy: 'digital-twin memory',
  });
  return new Uint8Array(buffer);
}

export function encodeTable<R>(spec: TableSpec<R>, rows: readonly R[]): Uint8Array {
  return encodeColumns(tableColumns(spec, rows));
}

export async function decodeTable<R>(spec: TableSpec<R>, bytes: Uint8Array): Promise<R[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const records = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  return records.map((r) => spec.fromRecord(r));
}

const str = (v: unknown) => String(v ?? '');
const num = (v: unknown) => Number(v ?? 0);
const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
const numbers = (v: unknown) => (Array.isArray(v) ? v.map(Number) : []);

export const chunksTable: TableSpec<ChunkAssignment> = {
  file: 'chunks.parquet',
  columns: [
    { name: 'chunk_id', kind: 'STRING', get: (r) => r.chunkId },
    { name: 'document_id', kind: 'STRING', get: (r) => r.documentId },
    { name: 'chunk_index', kind: 'INT32', get: (r) => r.chunkIndex },
    { name: 'text_sha', kind: 'STRING', get: (r) => r.textSha },
    { name: 'perspective', kind: 'STRING', get: (r) => r.perspective },
    { name: 'created_at', kind: 'STRING', get: (r) => r.createdAt },
    { name: 'cluster_id', kind: 'STRING', get: (r) => r.clusterId },
    { name: 'similarity', kind: 'DOUBLE', get: (r) => r.similarity },
    { name: 'is_outlier', kind: 'BOOLEAN', get: (r) => r.isOutlier },
  ],
  fromRecord: (r) => ({
    chunkId: str(r.chunk_id),
    documentId: str(r.document_id),
    chunkIndex: num(r.chunk_index),
    textSha: str(r.text_sha),
    perspective: r.perspective === 'subjective' ? 'subjective' : 'objective',
    createdAt: str(r.created_at),
    clusterId: str(r.cluster_id),
    similarity: num(r.similarity),
    isOutlier: r.is_outlier === true,
  }),
};

export const clustersTable: TableSpec<ClusterRow> = {
  file: 'clusters.parquet',
  columns: [
    { name: 'cluster_id', kind: 'STRING', get: (r) => r.clusterId },
    { name: 'topic_id', kind: 'STRING', get: (r) => r.topicId },
    { name: 'size', kind: 'INT32', get: (r) => r.size },
    { name: 'label', kind: 'STRING', get: (r) => r.label },
    { name: 'summary', kind: 'STRING', get: (r) => r.summary },
    { name: 'keywords', kind: 'LIST_STRING', get: (r) => r.keywords },
    { name: 'label_source', kind: 'STRING', get: (r) => r.labelSource },
    { name: 'representative_chunk_ids', kind: 'LIST_STRING', get: (r) => r.representativeChunkIds },
    { name: 'centroid', kind: 'LIST_FLOAT', get: (r) => r.centroid },
    { name: 'cohesion', kind: 'DOUBLE', get: (r) => r.cohesion },
    { name: 'subjective_share', kind: 'DOUBLE', get: (r) => r.subjectiveShare },
  ],
  fromRecord: (r) => ({
    clusterId: str(r.cluster_id),
    topicId: str(r.topic_id),
    size: num(r.size),
    label: str(r.label),
    summary: str(r.summary),
    keywords: strings(r.keywords),
    labelSource: r.label_source === 'llm' ? 'llm' : 'keywords',
    representativeChunkIds: strings(r.representative_chunk_ids),
    centroid: numbers(r.centroid),
    cohesion: num(r.cohesion),
    subjectiveShare: num(r.subjective_share),
  }),
};

export const topicsTable: TableSpec<TopicRow> = {
  file: 'topics.parquet',
  columns: [
    { name: 'topic_id', kind: 'STRING', get: (r) => r.topicId },
    { name: 'parent_id', kind: 'OPTIONAL_STRING', get: (r) => r.parentId },
    { name: 'depth', kind: 'INT32', get: (r) => r.depth },
    { name: 'label', kind: 'STRING', get: (r) => r.label },
    { name: 'summary', kind: 'STRING', get: (r) => r.summary },
    { name: 'keywords', kind: 'LIST_STRING', get: (r) => r.keywords },
    { name: 'cluster_ids', kind: 'LIST_STRING', get: (r) => r.clusterIds },
    { name: 'size', kind: 'INT32', get: (r) => r.size },
  ],
  fromRecord: (r) => ({
    topicId: str(r.topic_id),
    parentId: r.parent_id == null ? null : String(r.parent_id),
    depth: num(r.depth),
    label: str(r.label),
    summary: str(r.summary),
    keywords: strings(r.keywords),
    clusterIds: strings(r.cluster_ids),
    size: num(r.size),
  }),
};

export const entitiesTable: TableSpec<EntityRow> = {
  file: 'entities.parquet',
  columns: [
    { name: 'id', kind: 'STRING', get: (r) => r.id },
    { name: 'title', kind: 'STRING', get: (r) => r.title },
    { name: 'type', kind: 'STRING', get: (r) => r.type },
    { name: 'description', kind: 'STRING', get: (r) => r.description },
    { name: 'text_unit_ids', kind: 'LIST_STRING', get: (r) => r.textUnitIds },
    { name: 'document_ids', kind: 'LIST_STRING', get: (r) => r.documentIds },
    { name: 'mention_count', kind: 'INT32', get: (r) => r.mentionCount },
    { name: 'source', kind: 'STRING', get: (r) => r.source },
  ],
  fromRecord: (r) => ({
    id: str(r.id),
    title: str(r.title),
    type: str(r.type) as EntityRow['type'],
    description: str(r.description),
    textUnitIds: strings(r.text_unit_ids),
    documentIds: strings(r.document_ids),
    mentionCount: num(r.mention_count),
    source: r.source === 'llm' ? 'llm' : 'compromise',
  }),
};

export const relationsTable: TableSpec<RelationRow> = {
  file: 'relations.parquet',
  columns: [
    { name: 'id', kind: 'STRING', get: (r) => r.id },
    { name: 'source', kind: 'STRING', get: (r) => r.source },
    { name: 'target', kind: 'STRING', get: (r) => r.target },
    { name: 'description', kind: 'STRING', get: (r) => r.description },
    { name: 'weight', kind: 'DOUBLE', get: (r) => r.weight },
    { name: 'text_unit_ids', kind: 'LIST_STRING', get: (r) => r.textUnitIds },
  ],
  fromRecord: (r) => ({
    id: str(r.id),
    source: str(r.source),
    target: str(r.target),
    description: str(r.description),
    weight: num(r.weight),
    textUnitIds: strings(r.text_unit_ids),
  }),
};

export const encodeChunks = (rows: readonly ChunkAssignment[]) => encodeTable(chunksTable, rows);
export const decodeChunks = (bytes: Uint8Array) => decodeTable(chunksTable, bytes);
export const encodeClusters = (rows: readonly ClusterRow[]) => encodeTable(clustersTable, rows);
export const decodeClusters = (bytes: Uint8Array) => decodeTable(clustersTable, bytes);
export const encodeTopics = (rows: readonly TopicRow[]) => encodeTable(topicsTable, rows);
export const decodeTopics = (bytes: Uint8Array) => decodeTable(topicsTable, bytes);
export const encodeEntities = (rows: readonly EntityRow[]) => encodeTable(entitiesTable, rows);
export const decodeEntities = (bytes: Uint8Array) => decodeTable(entitiesTable, bytes);
export const encodeRelations = (rows: readonly RelationRow[]) => encodeTable(relationsTable, rows);
export const decodeRelations = (bytes: Uint8Array) => decodeTable(relationsTable, bytes);

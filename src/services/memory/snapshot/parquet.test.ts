import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parquetMetadata } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChunkAssignment, ClusterRow, EntityRow, RelationRow, TopicRow } from '../../ports/memory.ts';
import {
  chunksTable,
  clustersTable,
  decodeChunks,
  decodeClusters,
  decodeEntities,
  decodeRelations,
  decodeTable,
  decodeTopics,
  encodeChunks,
  encodeClusters,
  encodeEntities,
  encodeRelations,
  encodeTable,
  encodeTopics,
  entitiesTable,
  relationsTable,
  type TableSpec,
  topicsTable,
} from './parquet.ts';

// MEMORY-TRAINING.md A7/A10: the snapshot's parquet columns and types are exact, every table
// round-trips, and pyarrow (what Python consumers of training_data/ use) reads the files.

const chunks: ChunkAssignment[] = [
  {
    chunkId: 'd1:0',
    documentId: 'd1',
    chunkIndex: 0,
    textSha: 'a'.repeat(64),
    perspective: 'subjective',
    createdAt: '2026-01-02T03:04:05.678Z',
    clusterId: 'c1',
    similarity: 0.8125,
    isOutlier: false,
  },
  {
    chunkId: 'd2:7',
    documentId: 'd2',
    chunkIndex: 7,
    textSha: 'b'.repeat(64),
    perspective: 'objective',
    createdAt: '2026-02-03T04:05:06.000Z',
    clusterId: 'c2',
    similarity: 0.1234567890123,
    isOutlier: true,
  },
];
const clusters: ClusterRow[] = [
  {
    clusterId: 'c1',
    topicId: 't1',
    size: 12,
    label: 'Sailing – café',
    summary: 'Trips on the lake.',
    keywords: ['sailing', 'lake boat'],
    labelSource: 'llm',
    representativeChunkIds: ['d1:0'],
    centroid: [0.5, -0.25, 0.1],
    cohesion: 0.75,
    subjectiveShare: 1,
  },
  {
    clusterId: 'c2',
    topicId: 't2',
    size: 3,
    label: 'empty lists',
    summary: '',
    keywords: [],
    labelSource: 'keywords',
    representativeChunkIds: [],
    centroid: [],
    cohesion: 0,
    subjectiveShare: 0,
  },
];
const topics: TopicRow[] = [
  {
    topicId: 't0',
    parentId: null,
    depth: 0,
    label: 'Outdoors',
    summary: 's',
    keywords: ['k'],
    clusterIds: ['c1', 'c2'],
    size: 15,
  },
  {
    topicId: 't1',
    parentId: 't0',
    depth: 1,
    label: 'Sailing',
    summary: '',
    keywords: [],
    clusterIds: ['c1'],
    size: 12,
  },
];
const entities: EntityRow[] = [
  {
    id: 'e1',
    title: 'Anna Kowalski',
    type: 'person',
    description: 'my sister',
    textUnitIds: ['d1:0', 'd2:7'],
    documentIds: ['d1', 'd2'],
    mentionCount: 4,
    source: 'compromise',
  },
];
const relations: RelationRow[] = [
  { id: 'r1', source: 'e1', target: 'e2', description: 'sister', weight: 0.5, textUnitIds: ['d1:0'] },
];

type Spec = TableSpec<never>;
const specs = [chunksTable, clustersTable, topicsTable, entitiesTable, relationsTable] as unknown as Spec[];

/** Column name → (physical type, converted type, repetition) as written in the file's schema. */
function leafTypes(bytes: Uint8Array) {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const schema = parquetMetadata(file).schema;
  const out: Record<string, string> = {};
  for (let i = 1; i < schema.length; i++) {
    const el = schema[i]!;
    if (el.converted_type === 'LIST') {
      const element = schema[i + 2]!;
      expect(schema[i + 1]).toMatchObject({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      expect(element.name).toBe('element');
      out[el.name] = `LIST<${element.type}${element.converted_type ? `/${element.converted_type}` : ''}>`;
      i += 2;
    } else {
      out[el.name] =
        `${el.type}${el.converted_type ? `/${el.converted_type}` : ''}${el.repetition_type === 'OPTIONAL' ? '?' : ''}`;
    }
  }
  return out;
}

describe('snapshot parquet tables', () => {
  it('round-trip every table (float32 centroids)', async () => {
    expect(await decodeChunks(encodeChunks(chunks))).toEqual(chunks);
    expect(await decodeClusters(encodeClusters(clusters))).toEqual(
      clusters.map((c) => ({ ...c, centroid: c.centroid.map(Math.fround) })),
    );
    expect(await decodeTopics(encodeTopics(topics))).toEqual(topics);
    expect(await decodeEntities(encodeEntities(entities))).toEqual(entities);
    expect(await decodeRelations(encodeRelations(relations))).toEqual(relations);
    for (const spec of specs) expect(await decodeTable(spec, encodeTable(spec, []))).toEqual([]);
  });

  it('write exactly the A7 columns and types', () => {
    const S = 'BYTE_ARRAY/UTF8';
    expect(leafTypes(encodeChunks(chunks))).toEqual({
      chunk_id: S,
      document_id: S,
      chunk_index: 'INT32',
      text_sha: S,
      perspective: S,
      created_at: S,
      cluster_id: S,
      similarity: 'DOUBLE',
      is_outlier: 'BOOLEAN',
    });
    expect(leafTypes(encodeClusters(clusters))).toEqual({
      cluster_id: S,
      topic_id: S,
      size: 'INT32',
      label: S,
      summary: S,
      keywords: `LIST<${S}>`,
      label_source: S,
      representative_chunk_ids: `LIST<${S}>`,
      centroid: 'LIST<FLOAT>',
      cohesion: 'DOUBLE',
      subjective_share: 'DOUBLE',
    });
    expect(leafTypes(encodeTopics(topics))).toEqual({
      topic_id: S,
      parent_id: `${S}?`,
      depth: 'INT32',
      label: S,
      summary: S,
      keywords: `LIST<${S}>`,
      cluster_ids: `LIST<${S}>`,
      size: 'INT32',
    });
    expect(leafTypes(encodeEntities(entities))).toEqual({
      id: S,
      title: S,
      type: S,
      description: S,
      text_unit_ids: `LIST<${S}>`,
      document_ids: `LIST<${S}>`,
      mention_count: 'INT32',
      source: S,
    });
    expect(leafTypes(encodeRelations(relations))).toEqual({
      id: S,
      source: S,
      target: S,
      description: S,
      weight: 'DOUBLE',
      text_unit_ids: `LIST<${S}>`,
    });
  });

  it('encode 100k chunk rows in a couple of seconds', async () => {
    const many: ChunkAssignment[] = Array.from({ length: 100_000 }, (_, i) => ({
      chunkId: `doc-${i >> 5}:${i & 31}`,
      documentId: `doc-${i >> 5}`,
      chunkIndex: i & 31,
      textSha: (i * 2654435761).toString(16).padStart(64, '0'),
      perspective: i % 3 ? 'objective' : 'subjective',
      createdAt: new Date(1_700_000_000_000 + (i >> 5) * 1000).toISOString(),
      clusterId: `c${i % 300}`,
      similarity: (i % 1000) / 1000,
      isOutlier: i % 20 === 0,
    }));
    const started = performance.now();
    const bytes = encodeChunks(many);
    // ~1.1 s warm on one core (2.5 s cold); the bound leaves room for a loaded CI machine
    expect(performance.now() - started).toBeLessThan(10_000);
    const back = await decodeChunks(bytes);
    expect(back).toHaveLength(many.length);
    expect(back[12345]).toEqual(many[12345]);
  });
});

// pyarrow lives in the modal/ venv (modal/scripts/setup.sh; npm test builds it first).
const CACHE_DIR = process.env.TWIN_CACHE_DIR ?? join(homedir(), '.cache', 'digital-twin');
const PYTHON = process.env.TWIN_PYARROW_PYTHON ?? join(CACHE_DIR, 'venv-modal', 'bin', 'python');
const READ_SCHEMAS = `
import json, sys, pyarrow.parquet as pq
out = {}
for path in sys.argv[1:]:
    t = pq.read_table(path)
    out[path.rsplit('/', 1)[-1]] = {"rows": t.num_rows, "schema": {f.name: str(f.type) for f in t.schema}, "first": t.slice(0, 1).to_pylist()}
print(json.dumps(out))
`;

describe('pyarrow', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the five snapshot tables with their names, types and row counts', async () => {
    if (!existsSync(PYTHON))
      throw new Error(
        `no Python at ${PYTHON}: the modal/ venv is missing (bash modal/scripts/setup.sh builds it)`,
      );
    dir = await mkdtemp(join(tmpdir(), 'twin-parquet-'));
    const files = {
      'chunks.parquet': encodeChunks(chunks),
      'clusters.parquet': encodeClusters(clusters),
      'topics.parquet': encodeTopics(topics),
      'entities.parquet': encodeEntities(entities),
      'relations.parquet': encodeRelations(relations),
    };
    const paths: string[] = [];
    for (const [name, bytes] of Object.entries(files)) {
      const p = join(dir, name);
      await writeFile(p, bytes);
      paths.push(p);
    }
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(PYTHON, ['-c', READ_SCHEMAS, ...paths]));
    } catch (error) {
      const message = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(
        /No module named 'pyarrow'/.test(message)
          ? `pyarrow is not installed in ${PYTHON} (modal/requirements.lock must list it)`
          : message,
      );
    }
    const got = JSON.parse(stdout) as Record<
      string,
      { rows: number; schema: Record<string, string>; first: Record<string, unknown>[] }
    >;
    const list = (t: string) => `list<element: ${t} not null>`;
    expect(got['chunks.parquet']).toMatchObject({
      rows: 2,
      schema: {
        chunk_id: 'string',
        document_id: 'string',
        chunk_index: 'int32',
        text_sha: 'string',
        perspective: 'string',
        created_at: 'string',
        cluster_id: 'string',
        similarity: 'double',
        is_outlier: 'bool',
      },
    });
    expect(got['chunks.parquet']!.first[0]).toMatchObject({
      chunk_id: 'd1:0',
      chunk_index: 0,
      is_outlier: false,
    });
    expect(got['clusters.parquet']).toMatchObject({
      rows: 2,
      schema: {
        cluster_id: 'string',
        topic_id: 'string',
        size: 'int32',
        label: 'string',
        summary: 'string',
        keywords: list('string'),
        label_source: 'string',
        representative_chunk_ids: list('string'),
        centroid: list('float'),
        cohesion: 'double',
        subjective_share: 'double',
      },
    });
    expect(got['clusters.parquet']!.first[0]).toMatchObject({
      keywords: ['sailing', 'lake boat'],
      centroid: [0.5, -0.25, Math.fround(0.1)],
    });
    expect(got['topics.parquet']).toMatchObject({
      rows: 2,
      schema: {
        topic_id: 'string',
        parent_id: 'string',
        depth: 'int32',
        label: 'string',
        summary: 'string',
        keywords: list('string'),
        cluster_ids: list('string'),
        size: 'int32',
      },
    });
    expect(got['topics.parquet']!.first[0]).toMatchObject({ parent_id: null, cluster_ids: ['c1', 'c2'] });
    expect(got['entities.parquet']).toMatchObject({
      rows: 1,
      schema: {
        id: 'string',
        title: 'string',
        type: 'string',
        description: 'string',
        text_unit_ids: list('string'),
        document_ids: list('string'),
        mention_count: 'int32',
        source: 'string',
      },
    });
    expect(got['relations.parquet']).toMatchObject({
      rows: 1,
      schema: {
        id: 'string',
        source: 'string',
        target: 'string',
        description: 'string',
        weight: 'double',
        text_unit_ids: list('string'),
      },
    });
    // exactly these columns, in this order, and nothing else
    for (const spec of specs)
      expect(Object.keys(got[spec.file]!.schema)).toEqual(spec.columns.map((c) => c.name));
  });
});

import { BlobNotFoundError, type BlobStore } from '../../ports/blob-store.ts';
import type {
  Bio,
  EntityRow,
  Manifest,
  MemorySnapshot,
  Perspective,
  RelationRow,
} from '../../ports/memory.ts';
import { memoryKeys } from '../../tenant-keys.ts';
import {
  chunksTable,
  clustersTable,
  decodeTable,
  encodeTable,
  entitiesTable,
  relationsTable,
  type TableColumns,
  type TableSpec,
  tableColumns,
  topicsTable,
} from './parquet.ts';

/** Writes a table's parquet file elsewhere (the compute thread: 100k rows take the loop ~1 s). */
export type ColumnEncoder = (columns: TableColumns) => Promise<Uint8Array>;

// An L1 version in S3 (MEMORY-TRAINING.md A7): copy-on-write under `memory/l1/{version}/`, the
// manifest written last, so a version without one (a build that died mid-write) reads as absent.
// The DESIGN §4 views (`metadata/*.json`, `training_data/L1/graphrag_indexing/…`) are derived from
// the current version and overwritten when another becomes current.

const MANIFEST = 'manifest.json';
const BIO = 'bio.json';
const json = (value: unknown) => JSON.stringify(value);
const JSON_TYPE = { contentType: 'application/json' };
const PARQUET_TYPE = { contentType: 'application/vnd.apache.parquet' };

export async function writeSnapshot(
  blobs: BlobStore,
  userId: string,
  snapshot: MemorySnapshot,
  encode?: ColumnEncoder,
): Promise<void> {
  const { version } = snapshot.manifest;
  const file = (name: string) => memoryKeys.versionFile(version, name);
  const table = async <R>(spec: TableSpec<R>, rows: readonly R[]) =>
    blobs.put(
      userId,
      file(spec.file),
      Buffer.from(encode ? await encode(tableColumns(spec, rows)) : encodeTable(spec, rows)),
      PARQUET_TYPE,
    );
  await Promise.all([
    table(chunksTable, snapshot.chunks),
    table(clustersTable, snapshot.clusters),
    table(topicsTable, snapshot.topics),
    table(entitiesTable, snapshot.entities),
    table(relationsTable, snapshot.relations),
    blobs.put(userId, file(BIO), json(snapshot.bio), JSON_TYPE),
  ]);
  await blobs.put(userId, file(MANIFEST), json(snapshot.manifest), JSON_TYPE);
}

/** The version's snapshot, or null when it has no manifest (never written, or not finished). */
export async function readSnapshot(
  blobs: BlobStore,
  userId: string,
  version: string,
): Promise<MemorySnapshot | null> {
  const file = (name: string) => memoryKeys.versionFile(version, name);
  let manifest: Manifest;
  try {
    manifest = JSON.parse((await blobs.get(userId, file(MANIFEST))).toString('utf8')) as Manifest;
  } catch (error) {
    if (error instanceof BlobNotFoundError) return null;
    throw error;
  }
  const names = [chunksTable, clustersTable, topicsTable, entitiesTable, relationsTable].map((t) => t.file);
  const got = await blobs.getMany(userId, [...names, BIO].map(file));
  const bytes = got.map((b) => {
    if (b instanceof BlobNotFoundError) throw b;
    return b;
  }) as Buffer[];
  const [chunks, clusters, topics, entities, relations] = await Promise.all([
    decodeTable(chunksTable, bytes[0]!),
    decodeTable(clustersTable, bytes[1]!),
    decodeTable(topicsTable, bytes[2]!),
    decodeTable(entitiesTable, bytes[3]!),
    decodeTable(relationsTable, bytes[4]!),
  ]);
  const bio = JSON.parse(bytes[5]!.toString('utf8')) as Bio;
  return { manifest, chunks, clusters, topics, entities, relations, bio };
}

/** Versions that have a snapshot folder, complete or not (for pruning). */
export async function listVersions(blobs: BlobStore, userId: string): Promise<string[]> {
  const root = memoryKeys.version('').replace(/\/+$/, '/');
  const keys = await blobs.list(userId, root);
  return [...new Set(keys.map((k) => k.slice(root.length).split('/')[0]!).filter(Boolean))].sort();
}

/** Removes a version's snapshot, manifest first, so a reader meanwhile sees it absent, not torn. */
export async function deleteVersion(blobs: BlobStore, userId: string, version: string): Promise<void> {
  await blobs.delete(userId, [memoryKeys.versionFile(version, MANIFEST)]);
  await blobs.deletePrefix(userId, memoryKeys.version(version));
}

/** Deletes every snapshot but those kept (the current version and the previous one); returns the deleted. */
export async function pruneVersions(
  blobs: BlobStore,
  userId: string,
  keep: readonly (string | null | undefined)[],
): Promise<string[]> {
  const kept = new Set(keep.filter((v): v is string => Boolean(v)));
  const gone = (await listVersions(blobs, userId)).filter((v) => !kept.has(v));
  for (const version of gone) await deleteVersion(blobs, userId, version);
  return gone;
}

/**
 * Entities whose evidence chunks are mostly (more than half) subjective go to `subjective`, the
 * rest (evidence unknown included) to `objective`; a relation follows its source entity.
 */
export function splitByPerspective(
  snapshot: MemorySnapshot,
): Record<Perspective, { entities: EntityRow[]; relations: RelationRow[] }> {
  const perspectiveOf = new Map(snapshot.chunks.map((c) => [c.chunkId, c.perspective]));
  const side = new Map<string, Perspective>();
  const out: Record<Perspective, { entities: EntityRow[]; relations: RelationRow[] }> = {
    subjective: { entities: [], relations: [] },
    objective: { entities: [], relations: [] },
  };
  for (const entity of snapshot.entities) {
    let subjective = 0;
    for (const id of entity.textUnitIds) if (perspectiveOf.get(id) === 'subjective') subjective++;
    const p: Perspective = subjective * 2 > entity.textUnitIds.length ? 'subjective' : 'objective';
    side.set(entity.id, p);
    out[p].entities.push(entity);
  }
  for (const relation of snapshot.relations)
    out[side.get(relation.source) ?? 'objective'].relations.push(relation);
  return out;
}

/**
 * The DESIGN §4 views of the snapshot, which is the user's current version: `metadata/topics.json`
 * `{version, topics}`, `metadata/clusters.json` `{version, clusters}` (without centroids),
 * `metadata/entities.json` `{version, entities, relations}`, `metadata/bio.json` (the Bio itself,
 * as the chat path reads it) and the GraphRAG parquet files per perspective.
 */
export async function writeViews(blobs: BlobStore, userId: string, snapshot: MemorySnapshot): Promise<void> {
  const { version } = snapshot.manifest;
  const split = splitByPerspective(snapshot);
  const clusters = snapshot.clusters.map(({ centroid: _centroid, ...rest }) => rest);
  const parquet = <R>(key: string, spec: TableSpec<R>, rows: readonly R[]) =>
    blobs.put(userId, key, Buffer.from(encodeTable(spec, rows)), PARQUET_TYPE);
  await Promise.all([
    blobs.put(userId, memoryKeys.view('topics.json'), json({ version, topics: snapshot.topics }), JSON_TYPE),
    blobs.put(userId, memoryKeys.view('clusters.json'), json({ version, clusters }), JSON_TYPE),
    blobs.put(
      userId,
      memoryKeys.view('entities.json'),
      json({ version, entities: snapshot.entities, relations: snapshot.relations }),
      JSON_TYPE,
    ),
    ...(['subjective', 'objective'] as const).flatMap((p) => [
      parquet(memoryKeys.graphrag(p, 'entities'), entitiesTable, split[p].entities),
      parquet(memoryKeys.graphrag(p, 'relations'), relationsTable, split[p].relations),
    ]),
  ]);
  // the bio last: the chat path reads it, and it names the version the other views are of
  await blobs.put(userId, memoryKeys.bio(), json(snapshot.bio), JSON_TYPE);
}

import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobStore } from '../src/container.ts';
import { PgAccountRepository } from '../src/services/adapters/postgres/account.repository.pg.ts';
import { PgDocumentsRepository } from '../src/services/adapters/postgres/documents.repository.pg.ts';
import { PgMemoryRepository } from '../src/services/adapters/postgres/memory.repository.pg.ts';
import { createOrm } from '../src/services/adapters/postgres/orm.ts';
import { decodeEntities, decodeRelations } from '../src/services/memory/snapshot/parquet.ts';
import {
  deleteVersion,
  listVersions,
  pruneVersions,
  readSnapshot,
  writeSnapshot,
  writeViews,
} from '../src/services/memory/snapshot/snapshot-store.ts';
import type { BlobStore } from '../src/services/ports/blob-store.ts';
import type {
  ChunkAssignment,
  ClusterRow,
  EntityRow,
  MemorySnapshot,
  RelationRow,
  TopicRow,
} from '../src/services/ports/memory.ts';
import { countsOf } from '../src/services/ports/memory.ts';
import { memoryKeys } from '../src/services/tenant-keys.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { testConfig } from './helpers/harness.ts';

// MEMORY-TRAINING.md A7: an L1 version as parquet in S3 and its rows mirrored into PostgreSQL,
// switched to `ready` in one transaction, the previous version kept, older ones removed; every
// read scoped to its tenant.

const config = testConfig();
let orm: MikroORM;
let blobs: BlobStore;
let memory: PgMemoryRepository;
const users: string[] = [];

beforeAll(async () => {
  orm = await createOrm(config.DATABASE_URL, 4);
  blobs = await createBlobStore(config);
  memory = new PgMemoryRepository(orm);
});
afterAll(async () => {
  if (orm && blobs) await removeUsers(config, blobs, orm, users);
  blobs?.close();
  await orm?.close();
});

async function newUser(): Promise<string> {
  const id = `u-${randomUUID()}`;
  users.push(id);
  await orm.em.getConnection().execute('INSERT INTO users (id) VALUES (?)', [id]);
  return id;
}

async function count(table: string, userId: string, version?: string): Promise<number> {
  const [row] = await orm.em
    .getConnection()
    .execute<{ n: string }[]>(
      `SELECT count(*) AS n FROM ${table} WHERE user_id = ?${version ? ' AND version = ?' : ''}`,
      version ? [userId, version] : [userId],
    );
  return Number(row!.n);
}

const D1 = '11111111-1111-4111-8111-111111111111';
const D2 = '22222222-2222-4222-8222-222222222222';

/** Two top topics (one with a child), three clusters, chunks of two documents, entities and relations. */
function snapshot(version: string, parent: string | null = null, label = 'Sailing'): MemorySnapshot {
  const chunk = (doc: string, i: number, clusterId: string, similarity: number): ChunkAssignment => ({
    chunkId: `${doc}:${i}`,
    documentId: doc,
    chunkIndex: i,
    textSha: `${doc.slice(0, 4)}${i}`.padEnd(64, '0'),
    perspective: doc === D1 ? 'subjective' : 'objective',
    createdAt: doc === D1 ? '2026-01-01T10:00:00.000Z' : '2026-02-01T10:00:00.123Z',
    clusterId,
    similarity,
    isOutlier: similarity < 0.2,
  });
  const chunks = [
    chunk(D1, 0, 'c-sail', 0.9),
    chunk(D1, 1, 'c-sail', 0.7),
    chunk(D1, 2, 'c-sail', 0.7),
    chunk(D1, 3, 'c-boat', 0.5),
    chunk(D2, 0, 'c-tax', 0.8),
    chunk(D2, 1, 'c-tax', 0.1),
  ];
  const cluster = (clusterId: string, topicId: string, size: number, l: string): ClusterRow => ({
    clusterId,
    topicId,
    size,
    label: l,
    summary: `About ${l}, "quoted" and \\ backslashed; it's {braced}`,
    keywords: [l.toLowerCase(), 'a "b"', 'c,d', '{e}'],
    labelSource: clusterId === 'c-tax' ? 'keywords' : 'llm',
    representativeChunkIds: chunks.filter((c) => c.clusterId === clusterId).map((c) => c.chunkId),
    centroid: [0.5, 0.25],
    cohesion: 0.75,
    subjectiveShare: clusterId === 'c-tax' ? 0 : 1,
  });
  const clusters = [
    cluster('c-sail', 't-sail', 3, label),
    cluster('c-boat', 't-sail', 1, 'Boats'),
    cluster('c-tax', 't-money', 2, 'Taxes'),
  ];
  const topics: TopicRow[] = [
    {
      topicId: 't-water',
      parentId: null,
      depth: 0,
      label: 'Water',
      summary: 'On the water',
      keywords: ['water'],
      clusterIds: ['c-sail', 'c-boat'],
      size: 4,
    },
    {
      topicId: 't-money',
      parentId: null,
      depth: 0,
      label: 'Money',
      summary: '',
      keywords: [],
      clusterIds: ['c-tax'],
      size: 2,
    },
    {
      topicId: 't-sail',
      parentId: 't-water',
      depth: 1,
      label,
      summary: 'Sailing trips',
      keywords: ['sailing'],
      clusterIds: ['c-sail', 'c-boat'],
      size: 4,
    },
  ];
  const entity = (
    id: string,
    title: string,
    type: EntityRow['type'],
    units: string[],
    n: number,
  ): EntityRow => ({
    id,
    title,
    type,
    description: `${title} (described)`,
    textUnitIds: units,
    documentIds: [...new Set(units.map((u) => u.split(':')[0]!))],
    mentionCount: n,
    source: 'compromise',
  });
  const entities = [
    entity('e-anna', 'Anna Kowalski', 'person', [`${D1}:0`, `${D1}:1`], 5),
    entity('e-lake', 'Lake Constance', 'place', [`${D1}:1`, `${D2}:0`], 3),
    entity('e-annapolis', 'Annapolis', 'place', [`${D2}:0`], 3),
    entity('e-irs', 'IRS_100%', 'organization', [`${D2}:0`, `${D2}:1`], 1),
  ];
  const relations: RelationRow[] = [
    {
      id: 'r1',
      source: 'e-anna',
      target: 'e-lake',
      description: 'sails on',
      weight: 2,
      textUnitIds: [`${D1}:1`],
    },
    {
      id: 'r2',
      source: 'e-irs',
      target: 'e-anna',
      description: 'taxes',
      weight: 1,
      textUnitIds: [`${D2}:0`],
    },
  ];
  return {
    manifest: {
      version,
      parent,
      mode: parent ? 'incremental' : 'full',
      createdAt: '2026-03-01T00:00:00.000Z',
      params: { k: 3 },
      seed: 7,
      counts: countsOf({ chunks, clusters, topics, entities, relations }),
      models: { embedding: 'e', projection: 'p', labeler: 'l', extractor: 'x', bio: 'b' },
    },
    chunks,
    clusters,
    topics,
    entities,
    relations,
    bio: {
      version,
      generatedBy: 'offline',
      secondPerson: 'You write most about Sailing.',
      thirdPerson: 'They write most about Sailing.',
      status: 'Lately: Taxes.',
      topics: [{ id: 't-water', label: 'Water', share: 0.67 }],
      sourceChunkIds: [`${D1}:0`],
    },
  };
}

describe('L1 memory in PostgreSQL', () => {
  it('publishes versions: the newest ready, the previous superseded and readable, older rows removed', async () => {
    const user = await newUser();
    expect(await memory.current(user)).toBeNull();
    await memory.begin(user, 'v1', null, 'full', 'queued');
    expect(await memory.latest(user)).toMatchObject({ version: 'v1', status: 'queued', stage: 'QUEUED' });
    await memory.begin(user, 'v1', null, 'full', 'building');
    await memory.setStage(user, 'v1', 'CLUSTERING');
    expect(await memory.latest(user)).toMatchObject({ status: 'building', stage: 'CLUSTERING' });
    await memory.publish(user, snapshot('v1'));
    const a = await memory.current(user);
    expect(a).toMatchObject({ version: 'v1', status: 'ready', stage: 'DONE', mode: 'full', parent: null });
    expect(a!.counts).toEqual(snapshot('v1').manifest.counts);
    expect(a!.readyAt).toBeInstanceOf(Date);
    // a retried job neither restarts nor fails a ready version
    await memory.begin(user, 'v1', null, 'full', 'building');
    await memory.markFailed(user, 'v1', 'late failure');
    expect(await memory.current(user)).toMatchObject({ version: 'v1', status: 'ready', error: null });

    await memory.publish(user, snapshot('v2', 'v1', 'Sailing 2'));
    expect(await memory.current(user)).toMatchObject({ version: 'v2', status: 'ready', parent: 'v1' });
    expect((await memory.topics(user, 'v1', 1))[0]!.label).toBe('Sailing');
    expect((await memory.topics(user, 'v2', 1))[0]!.label).toBe('Sailing 2');
    const [v1] = await orm.em
      .getConnection()
      .execute<{ status: string }[]>('SELECT status FROM memory_versions WHERE user_id = ? AND version = ?', [
        user,
        'v1',
      ]);
    expect(v1!.status).toBe('superseded');

    // re-publishing the ready version is a no-op
    const before = await memory.current(user);
    await memory.publish(user, snapshot('v2', 'v1', 'changed'));
    expect(await memory.current(user)).toEqual(before);
    expect((await memory.topics(user, 'v2', 1))[0]!.label).toBe('Sailing 2');
    expect(await count('memory_chunk_assignments', user, 'v2')).toBe(6);

    // an older failed build left rows: they go with the next publish, as v1's do
    await memory.begin(user, 'v-failed', 'v1', 'incremental', 'building');
    await orm.em
      .getConnection()
      .execute(
        "INSERT INTO memory_topics (user_id, version, topic_id, depth, label, summary, keywords, cluster_ids, size) VALUES (?, 'v-failed', 't', 0, 'x', '', '{}', '{}', 0)",
        [user],
      );
    await memory.markFailed(user, 'v-failed', 'boom');
    expect(await memory.latest(user)).toMatchObject({ version: 'v-failed', status: 'failed', error: 'boom' });

    await memory.publish(user, snapshot('v3', 'v2'));
    expect((await memory.current(user))!.version).toBe('v3');
    for (const table of [
      'memory_topics',
      'memory_clusters',
      'memory_chunk_assignments',
      'memory_entities',
      'memory_entity_mentions',
      'memory_relations',
    ]) {
      expect(await count(table, user, 'v1')).toBe(0);
      expect(await count(table, user, 'v2')).toBeGreaterThan(0);
      expect(await count(table, user, 'v3')).toBeGreaterThan(0);
    }
    expect(await count('memory_topics', user, 'v-failed')).toBe(0);
    // a superseded version is never made ready again by a stale retry
    await memory.publish(user, snapshot('v2', 'v1'));
    expect((await memory.current(user))!.version).toBe('v3');
  });

  it('reads back topics, clusters, chunks, entities, mentions, relations and placement as written', async () => {
    const user = await newUser();
    const snap = snapshot('v1');
    await memory.publish(user, snap);

    expect((await memory.topics(user, 'v1')).map((t) => t.topicId)).toEqual(['t-water', 't-money', 't-sail']);
    expect(await memory.topics(user, 'v1', 0)).toEqual([snap.topics[0], snap.topics[1]]);
    expect(await memory.topicsById(user, 'v1', ['t-sail', 'nope', 't-water'])).toEqual([
      snap.topics[2],
      null,
      snap.topics[0],
    ]);
    expect(await memory.clustersById(user, 'v1', ['c-tax', 'x', 'c-sail'])).toEqual([
      { ...snap.clusters[2], centroid: [] },
      null,
      { ...snap.clusters[0], centroid: [] },
    ]);

    const sail = snap.chunks.filter((c) => c.clusterId === 'c-sail');
    const page1 = await memory.clusterChunks(user, 'v1', 'c-sail', 2);
    expect(page1).toEqual([sail[0], sail[1]]);
    const last = page1[1]!;
    expect(
      await memory.clusterChunks(user, 'v1', 'c-sail', 2, {
        similarity: last.similarity,
        chunkId: last.chunkId,
      }),
    ).toEqual([sail[2]]);

    const byId = (id: string) => snap.entities.find((e) => e.id === id)!;
    expect(await memory.entities(user, 'v1', {}, 10)).toEqual(
      ['e-anna', 'e-annapolis', 'e-lake', 'e-irs'].map(byId),
    );
    expect((await memory.entities(user, 'v1', { query: 'ANNA' }, 10)).map((e) => e.id)).toEqual([
      'e-anna',
      'e-annapolis',
    ]);
    expect(
      (await memory.entities(user, 'v1', { query: 'anna', type: 'place' }, 10)).map((e) => e.id),
    ).toEqual(['e-annapolis']);
    // LIKE wildcards in a query are literal
    expect((await memory.entities(user, 'v1', { query: '_100%' }, 10)).map((e) => e.id)).toEqual(['e-irs']);
    expect(await memory.entities(user, 'v1', { query: '%' }, 10)).toHaveLength(1);
    const first = await memory.entities(user, 'v1', {}, 2);
    expect(first.map((e) => e.id)).toEqual(['e-anna', 'e-annapolis']);
    const next = await memory.entities(user, 'v1', {}, 2, { mentionCount: 3, id: 'e-annapolis' });
    expect(next.map((e) => e.id)).toEqual(['e-lake', 'e-irs']);
    expect(await memory.entitiesById(user, 'v1', ['e-lake', 'zzz'])).toEqual([byId('e-lake'), null]);

    expect(await memory.mentionsOf(user, 'v1', ['e-lake', 'zzz', 'e-anna'])).toEqual([
      [
        { entityId: 'e-lake', chunkId: `${D1}:1`, documentId: D1, chunkIndex: 1 },
        { entityId: 'e-lake', chunkId: `${D2}:0`, documentId: D2, chunkIndex: 0 },
      ],
      [],
      [
        { entityId: 'e-anna', chunkId: `${D1}:0`, documentId: D1, chunkIndex: 0 },
        { entityId: 'e-anna', chunkId: `${D1}:1`, documentId: D1, chunkIndex: 1 },
      ],
    ]);
    expect(await memory.relationsOf(user, 'v1', ['e-anna', 'e-lake', 'e-annapolis'])).toEqual([
      [snap.relations[0], snap.relations[1]],
      [snap.relations[0]],
      [],
    ]);

    // a chunk's topic is the depth-0 one above its cluster's (deepest) topic
    expect(await memory.placementOf(user, 'v1', [`${D1}:3`, `${D2}:0`, `${D2}:9`])).toEqual([
      { clusterId: 'c-boat', topicId: 't-water', topicLabel: 'Water', clusterLabel: 'Boats' },
      { clusterId: 'c-tax', topicId: 't-money', topicLabel: 'Money', clusterLabel: 'Taxes' },
      null,
    ]);
    expect(await memory.placementOf(user, 'v1', [])).toEqual([]);
    // null names the ready version (the chat path's one query per reply); no memory: nothing placed
    expect(await memory.placementOf(user, null, [`${D1}:3`, `${D2}:9`])).toEqual([
      { clusterId: 'c-boat', topicId: 't-water', topicLabel: 'Water', clusterLabel: 'Boats' },
      null,
    ]);
    expect(await memory.placementOf(await newUser(), null, [`${D1}:3`])).toEqual([null]);
  });

  it('an update built on the ready version reads back exactly its own rows (unchanged ones copied, the rest sent)', async () => {
    const user = await newUser();
    const v1 = snapshot('v1');
    await memory.publish(user, v1);
    const v2 = snapshot('v2', 'v1');
    const moved = v2.chunks.find((c) => c.chunkId === `${D1}:3`)!;
    Object.assign(moved, { clusterId: 'c-sail', similarity: 0.66 });
    v2.chunks.find((c) => c.chunkId === `${D1}:2`)!.perspective = 'objective';
    v2.chunks = v2.chunks.filter((c) => c.chunkId !== `${D2}:1`);
    v2.chunks.push({ ...v2.chunks.find((c) => c.chunkId === `${D2}:0`)!, chunkId: `${D2}:2`, chunkIndex: 2 });
    await memory.publish(user, v2, v1);
    // a base whose rows are not in the database (never published): every row is sent
    const v3 = snapshot('v3', 'v2');
    await memory.publish(user, v3, snapshot('v-never'));

    for (const snap of [v2, v3]) {
      const { version } = snap.manifest;
      expect(await count('memory_chunk_assignments', user, version)).toBe(snap.chunks.length);
      for (const clusterId of ['c-sail', 'c-boat', 'c-tax']) {
        const want = snap.chunks
          .filter((c) => c.clusterId === clusterId)
          .sort((a, b) => b.similarity - a.similarity || (a.chunkId < b.chunkId ? -1 : 1));
        expect(await memory.clusterChunks(user, version, clusterId, 100), `${version} ${clusterId}`).toEqual(
          want,
        );
      }
    }
    expect(await memory.placementOf(user, 'v2', [`${D1}:3`, `${D2}:1`, `${D2}:2`])).toEqual([
      { clusterId: 'c-sail', topicId: 't-water', topicLabel: 'Water', clusterLabel: 'Sailing' },
      null,
      { clusterId: 'c-tax', topicId: 't-money', topicLabel: 'Money', clusterLabel: 'Taxes' },
    ]);
  });

  it('a publish that fails part-way leaves no rows and the ready version as it was', async () => {
    const user = await newUser();
    await memory.publish(user, snapshot('v1'));
    const broken = snapshot('v2');
    // the entities go in after topics, clusters and chunks; a fractional INTEGER fails the insert
    broken.entities[0]!.mentionCount = 1.5;
    await expect(memory.publish(user, broken)).rejects.toThrow();
    for (const table of ['memory_topics', 'memory_clusters', 'memory_chunk_assignments', 'memory_entities'])
      expect(await count(table, user, 'v2')).toBe(0);
    expect((await memory.current(user))!.version).toBe('v1');
    expect(await count('memory_chunk_assignments', user, 'v1')).toBe(6);
  });

  it("never reads another user's memory", async () => {
    const owner = await newUser();
    const other = await newUser();
    await memory.publish(owner, snapshot('v1'));
    expect(await memory.current(other)).toBeNull();
    expect(await memory.latest(other)).toBeNull();
    expect(await memory.topics(other, 'v1')).toEqual([]);
    expect(await memory.topicsById(other, 'v1', ['t-water'])).toEqual([null]);
    expect(await memory.clustersById(other, 'v1', ['c-sail'])).toEqual([null]);
    expect(await memory.clusterChunks(other, 'v1', 'c-sail', 10)).toEqual([]);
    expect(await memory.entities(other, 'v1', {}, 10)).toEqual([]);
    expect(await memory.entitiesById(other, 'v1', ['e-anna'])).toEqual([null]);
    expect(await memory.mentionsOf(other, 'v1', ['e-anna'])).toEqual([[]]);
    expect(await memory.relationsOf(other, 'v1', ['e-anna'])).toEqual([[]]);
    expect(await memory.placementOf(other, 'v1', [`${D1}:0`])).toEqual([null]);
    // the other user's own publish of the same version id leaves the owner's rows alone
    await memory.publish(other, snapshot('v1', null, 'Theirs'));
    await memory.publish(other, snapshot('v2'));
    await memory.publish(other, snapshot('v3'));
    expect((await memory.topics(owner, 'v1', 1))[0]!.label).toBe('Sailing');
    expect((await memory.current(owner))!.version).toBe('v1');
  });

  it('deleting the account removes its memory rows, and the receipt counts as before', async () => {
    const user = await newUser();
    await memory.publish(user, snapshot('v1'));
    const exported = await new PgAccountRepository(orm).exportRows(user);
    expect(exported.memory_versions).toHaveLength(1);
    expect(exported.memory_chunk_assignments).toHaveLength(6);
    expect(exported.memory_entity_mentions).toHaveLength(7);
    expect(exported.memory_relations).toHaveLength(2);
    const receipt = await new PgAccountRepository(orm).deleteUser(user);
    expect(receipt.rows).toEqual({ users: 1, documents: 0, chatSessions: 0, apiKeys: 0, trainingJobs: 0 });
    for (const table of ['memory_versions', 'memory_topics', 'memory_chunk_assignments', 'memory_entities'])
      expect(await count(table, user)).toBe(0);
  });
});

describe('document perspective', () => {
  it('sets a perspective and lists processed documents oldest first', async () => {
    const user = await newUser();
    const documents = new PgDocumentsRepository(orm);
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    for (const [i, id] of ids.entries()) {
      await documents.insertIfNew({
        id,
        userId: user,
        filename: `${i}.txt`,
        contentType: 'text/plain',
        s3Path: `raw/${id}/${i}.txt`,
        contentHash: String(i).repeat(64),
        kind: 'document',
        bytes: 1,
        ingestJobId: `job-${i}`,
      });
      await orm.em
        .getConnection()
        .execute('UPDATE documents SET uploaded_at = now() - make_interval(days => ?) WHERE id = ?', [
          10 - i,
          id,
        ]);
    }
    await documents.markProcessed(user, ids[2]!, 'job-2', { chunkCount: 1, embeddingModel: 'm' });
    await documents.markProcessed(user, ids[0]!, 'job-0', { chunkCount: 1, embeddingModel: 'm' });
    expect((await documents.get(user, ids[0]!))!.perspective).toBe('auto');
    expect((await documents.listProcessed(user)).map((d) => d.id)).toEqual([ids[0], ids[2]]);
    expect(await documents.setPerspective(user, ids[1]!, 'subjective')).toMatchObject({
      id: ids[1],
      perspective: 'subjective',
    });
    expect((await documents.get(user, ids[1]!))!.perspective).toBe('subjective');
    expect(await documents.setPerspective(`u-${randomUUID()}`, ids[1]!, 'objective')).toBeNull();
    expect(await documents.setPerspective(user, randomUUID(), 'objective')).toBeNull();
    expect(await documents.listProcessed(`u-${randomUUID()}`)).toEqual([]);
  });
});

describe('L1 snapshots in S3', () => {
  it('reads a written snapshot back equal; a version without manifest reads as absent', async () => {
    const user = await newUser();
    const snap = snapshot('v1');
    await writeSnapshot(blobs, user, snap);
    expect((await blobs.list(user, memoryKeys.version('v1'))).sort()).toEqual(
      [
        'bio.json',
        'chunks.parquet',
        'clusters.parquet',
        'entities.parquet',
        'manifest.json',
        'relations.parquet',
        'topics.parquet',
      ].map((n) => memoryKeys.versionFile('v1', n)),
    );
    expect(await readSnapshot(blobs, user, 'v1')).toEqual(snap);
    expect(await readSnapshot(blobs, `u-${randomUUID()}`, 'v1')).toBeNull();

    await writeSnapshot(blobs, user, snapshot('v2', 'v1'));
    await blobs.delete(user, [memoryKeys.versionFile('v2', 'manifest.json')]);
    expect(await readSnapshot(blobs, user, 'v2')).toBeNull();
    expect(await listVersions(blobs, user)).toEqual(['v1', 'v2']);
    await deleteVersion(blobs, user, 'v2');
    expect(await listVersions(blobs, user)).toEqual(['v1']);
    expect(await readSnapshot(blobs, user, 'v1')).toEqual(snap);

    await writeSnapshot(blobs, user, snapshot('v3', 'v1'));
    await writeSnapshot(blobs, user, snapshot('v4', 'v3'));
    expect(await pruneVersions(blobs, user, ['v4', 'v3'])).toEqual(['v1']);
    expect(await listVersions(blobs, user)).toEqual(['v3', 'v4']);
    expect(await readSnapshot(blobs, user, 'v1')).toBeNull();
  });

  it('writes the DESIGN §4 views of the current version', async () => {
    const user = await newUser();
    const snap = snapshot('v1');
    await writeViews(blobs, user, snap);
    expect((await blobs.list(user, '')).sort()).toEqual(
      [
        'metadata/bio.json',
        'metadata/clusters.json',
        'metadata/entities.json',
        'metadata/topics.json',
        'training_data/L1/graphrag_indexing/objective/entities.parquet',
        'training_data/L1/graphrag_indexing/objective/relations.parquet',
        'training_data/L1/graphrag_indexing/subjective/entities.parquet',
        'training_data/L1/graphrag_indexing/subjective/relations.parquet',
      ].sort(),
    );
    const read = async (key: string) => JSON.parse((await blobs.get(user, key)).toString('utf8'));
    expect(await read(memoryKeys.bio())).toEqual(snap.bio);
    expect(await read(memoryKeys.view('topics.json'))).toEqual({ version: 'v1', topics: snap.topics });
    const clusters = (await read(memoryKeys.view('clusters.json'))) as {
      version: string;
      clusters: object[];
    };
    expect(clusters.clusters).toHaveLength(3);
    for (const c of clusters.clusters) expect(c).not.toHaveProperty('centroid');
    expect(await read(memoryKeys.view('entities.json'))).toMatchObject({
      version: 'v1',
      entities: snap.entities,
    });

    const graph = async (p: 'subjective' | 'objective') => ({
      entities: (await decodeEntities(await blobs.get(user, memoryKeys.graphrag(p, 'entities')))).map(
        (e) => e.id,
      ),
      relations: (await decodeRelations(await blobs.get(user, memoryKeys.graphrag(p, 'relations')))).map(
        (r) => r.id,
      ),
    });
    // Anna's evidence is all in the first-person document; the lake's is half and half (objective)
    expect(await graph('subjective')).toEqual({ entities: ['e-anna'], relations: ['r1'] });
    expect(await graph('objective')).toEqual({
      entities: ['e-lake', 'e-annapolis', 'e-irs'],
      relations: ['r2'],
    });
  });
});

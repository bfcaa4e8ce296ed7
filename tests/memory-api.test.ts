import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MemoryClusterDocument,
  MemoryDocumentPerspectiveDocument,
  MemoryEntitiesDocument,
  MemoryEntityDocument,
  MemoryOverviewDocument,
  MemoryProgressDocument,
  MemoryTopicDocument,
  RebuildMemoryDocument,
  SetDocumentPerspectiveDocument,
} from '../src/sdk/generated/graphql.ts';
import { packChunks } from '../src/services/documents/chunk-file.ts';
import type { Chunk } from '../src/services/documents/ingest/chunker.ts';
import type {
  Bio,
  ChunkAssignment,
  ClusterRow,
  EntityRow,
  MemorySnapshot,
  RelationRow,
  TopicRow,
} from '../src/services/ports/memory.ts';
import { chunkIdOf, countsOf } from '../src/services/ports/memory.ts';
import { documentKeys, memoryKeys } from '../src/services/tenant-keys.ts';
import { member, type TestClient } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { uploadDocument } from './helpers/ingest.ts';

// The memory API over rows published straight into the PostgreSQL mirror (no build pipeline):
// what was published comes back, pages and filters hold, tenants stay apart, and a page's
// mentions and relations cost the same SQL whatever its size.

const VERSION = '20260101T000000000Z-test';

async function ok<R>(res: Promise<{ data?: R | null; errors?: readonly unknown[] }>): Promise<R> {
  const { data, errors } = await res;
  if (errors?.length) throw new Error(JSON.stringify(errors));
  return data!;
}

interface Published {
  docIds: [string, string];
  topics: TopicRow[];
  clusters: ClusterRow[];
  chunks: ChunkAssignment[];
  entities: EntityRow[];
  relations: RelationRow[];
  bio: Bio;
}

/** Uploads two documents (their rows; the chunks' text is written by hand) and publishes a memory. */
async function publishMemory(app: TestApp, client: TestClient, prefix: string): Promise<Published> {
  const { services } = app;
  const userId = client.userId;
  const a = await uploadDocument(client, `${prefix}-diary.txt`, 'I sail every weekend with my sister Anna.');
  const b = await uploadDocument(client, `${prefix}-notes.txt`, 'Kraków in spring; Maria Chen visits.');
  const docIds: [string, string] = [a.id, b.id];
  const texts = new Map<string, Chunk[]>();
  const chunk = (documentId: string, chunkIndex: number, clusterId: string, similarity: number) => {
    const text = `${prefix} chunk ${chunkIndex} of ${documentId} in ${clusterId}`;
    const list = texts.get(documentId) ?? [];
    list.push({ index: chunkIndex, text, charStart: 0, charEnd: text.length, page: null, tokens: 1 });
    texts.set(documentId, list);
    return {
      chunkId: chunkIdOf(documentId, chunkIndex),
      documentId,
      chunkIndex,
      textSha: `sha-${chunkIndex}`,
      perspective: documentId === a.id ? 'subjective' : 'objective',
      createdAt: new Date().toISOString(),
      clusterId,
      similarity,
      isOutlier: similarity < 0.4,
    } satisfies ChunkAssignment;
  };
  // cluster sailing: 7 chunks of the diary, most similar first as 0.95, 0.85, …
  const chunks = [
    ...Array.from({ length: 7 }, (_, i) => chunk(a.id, i, `${prefix}-c-sail`, 0.95 - i * 0.1)),
    chunk(b.id, 0, `${prefix}-c-city`, 0.9),
    chunk(b.id, 1, `${prefix}-c-city`, 0.8),
    chunk(b.id, 2, `${prefix}-c-food`, 0.7),
  ];
  // each document's chunk file, as ingest writes it
  await Promise.all(
    [...texts].map(([id, list]) =>
      services.blobs.put(userId, documentKeys.chunks(id), packChunks(list).body),
    ),
  );
  const cluster = (id: string, topicId: string, label: string, size: number): ClusterRow => ({
    clusterId: `${prefix}-${id}`,
    topicId: `${prefix}-${topicId}`,
    size,
    label,
    summary: `${label} summary`,
    keywords: [label, `${label} more`],
    labelSource: id === 'c-sail' ? 'llm' : 'keywords',
    representativeChunkIds: [],
    centroid: [1, 0],
    cohesion: 0.8,
    subjectiveShare: id === 'c-sail' ? 1 : 0,
  });
  const clusters = [
    cluster('c-sail', 't-sea', 'sailing', 7),
    cluster('c-city', 't-travel', 'cities', 2),
    cluster('c-food', 't-travel', 'food', 1),
  ];
  const topic = (id: string, parentId: string | null, depth: number, clusterIds: string[], size: number) => ({
    topicId: `${prefix}-${id}`,
    parentId: parentId && `${prefix}-${parentId}`,
    depth,
    label: `${id} label`,
    summary: `${id} summary`,
    keywords: [id],
    clusterIds: clusterIds.map((c) => `${prefix}-${c}`),
    size,
  });
  const topics: TopicRow[] = [
    topic('t-life', null, 0, ['c-sail', 'c-city', 'c-food'], 10),
    topic('t-other', null, 0, [], 0),
    topic('t-sea', 't-life', 1, ['c-sail'], 7),
    topic('t-travel', 't-life', 1, ['c-city', 'c-food'], 3),
  ];
  // 60 entities, mentioned 100, 99, … times; every third a place; each mentioned in one chunk
  const entities: EntityRow[] = Array.from({ length: 60 }, (_, i) => ({
    id: `${prefix}-e${String(i).padStart(2, '0')}`,
    title: i === 0 ? 'Anna Kowalski' : i === 1 ? 'Maria Chen' : `${i % 3 === 2 ? 'Place' : 'Person'} ${i}`,
    type: i % 3 === 2 ? 'place' : 'person',
    description: `entity ${i}`,
    textUnitIds: [chunkIdOf(i % 2 ? b.id : a.id, i % 3)],
    documentIds: [i % 2 ? b.id : a.id],
    mentionCount: 100 - i,
    source: 'compromise',
  }));
  // a chain: e0 → e1 → e2 …, so every entity has one or two relations
  const relations: RelationRow[] = entities.slice(1).map((e, i) => ({
    id: `${prefix}-r${i}`,
    source: entities[i]!.id,
    target: e.id,
    description: i === 0 ? 'sister' : 'co-occurs',
    weight: i === 0 ? 3 : 1,
    textUnitIds: e.textUnitIds,
  }));
  const bio: Bio = {
    version: VERSION,
    generatedBy: 'offline',
    secondPerson: `You write most about sailing (${prefix}).`,
    thirdPerson: `They write most about sailing (${prefix}).`,
    status: 'Lately: sailing.',
    topics: [{ id: `${prefix}-t-life`, label: 't-life label', share: 1 }],
    sourceChunkIds: [chunks[0]!.chunkId],
  };
  const snapshot: MemorySnapshot = {
    manifest: {
      version: VERSION,
      parent: null,
      mode: 'full',
      createdAt: new Date().toISOString(),
      params: {},
      seed: 1,
      counts: countsOf({ chunks, clusters, topics, entities, relations }),
      models: { embedding: 'e', projection: 'p', labeler: 'l', extractor: 'x', bio: 'b' },
    },
    chunks,
    clusters,
    topics,
    entities,
    relations,
    bio,
  };
  await services.db.memory.begin(userId, VERSION, null, 'full', 'building');
  await services.db.memory.publish(userId, snapshot);
  await services.blobs.put(userId, memoryKeys.versionFile(VERSION, 'bio.json'), JSON.stringify(bio));
  return { docIds, topics, clusters, chunks, entities, relations, bio };
}

/** Counts the SQL statements the app's connection runs while `run` runs. */
async function countSql(app: TestApp, run: () => Promise<unknown>): Promise<number> {
  const connection = app.services.orm.em.getConnection() as unknown as {
    logQuery: (...args: unknown[]) => unknown;
  };
  const original = connection.logQuery;
  let count = 0;
  connection.logQuery = function (this: unknown, ...args: unknown[]) {
    count++;
    return original.apply(this, args);
  };
  try {
    await run();
  } finally {
    connection.logQuery = original;
  }
  return count;
}

describe('memory API', () => {
  let app: TestApp;
  let alice: TestClient;
  let bob: TestClient;
  let mem: Published;

  beforeAll(async () => {
    app = await startTestApp();
    alice = app.client();
    bob = app.client();
  });
  afterAll(() => app?.close());

  it('is EMPTY before the first build', async () => {
    const { memory } = await ok(alice.request(MemoryOverviewDocument, {}));
    expect(memory).toMatchObject({ version: null, status: 'EMPTY', bio: null, building: null, topics: [] });
    const entities = await ok(alice.request(MemoryEntitiesDocument, {}));
    expect(member(entities.memory.entities, 'MemoryEntitiesConnection').edges).toEqual([]);
    mem = await publishMemory(app, alice, 'a');
  });

  it('serves the published version: bio, top topics with their subtopics and clusters', async () => {
    const { memory } = await ok(alice.request(MemoryOverviewDocument, {}));
    expect(memory.version).toBe(VERSION);
    expect(memory.status).toBe('READY');
    expect(memory.lastError).toBeNull();
    expect(memory.bio).toEqual({
      version: VERSION,
      thirdPerson: mem.bio.thirdPerson,
      secondPerson: mem.bio.secondPerson,
      status: mem.bio.status,
      generatedBy: 'OFFLINE',
      topics: [{ id: 'a-t-life', label: 't-life label', share: 1 }],
    });
    // depth 0 only, largest first
    expect(memory.topics.map((t) => [t.id, t.depth, t.size])).toEqual([
      ['a-t-life', 0, 10],
      ['a-t-other', 0, 0],
    ]);
    const life = memory.topics[0]!;
    expect(life).toMatchObject({ label: 't-life label', summary: 't-life summary', keywords: ['t-life'] });
    expect(life.parent).toBeNull();
    expect(life.clusters.map((c) => c.id).sort()).toEqual(['a-c-city', 'a-c-food', 'a-c-sail']);
    expect(life.children.map((c) => c.id)).toEqual(['a-t-sea', 'a-t-travel']);
    expect(life.children.every((c) => c.children.length === 0)).toBe(true);

    const deeper = await ok(alice.request(MemoryOverviewDocument, { depth: 1 }));
    expect(deeper.memory.topics.map((t) => t.id)).toEqual(['a-t-sea', 'a-t-travel']);
    expect(deeper.memory.topics[0]!.parent).toEqual({ id: 'a-t-life' });

    const { memory: one } = await ok(alice.request(MemoryTopicDocument, { id: 'a-t-travel' }));
    expect(one.topic).toMatchObject({ id: 'a-t-travel', depth: 1, size: 3, parent: { id: 'a-t-life' } });
    expect(one.topic!.clusters.map((c) => [c.id, c.labelSource])).toEqual([
      ['a-c-city', 'KEYWORDS'],
      ['a-c-food', 'KEYWORDS'],
    ]);
  });

  it("pages a cluster's chunks, most similar first, with their text and document", async () => {
    const page = async (after?: string) => {
      const { memory } = await ok(alice.request(MemoryClusterDocument, { id: 'a-c-sail', first: 3, after }));
      return {
        cluster: memory.cluster!,
        conn: member(memory.cluster!.chunks, 'MemoryClusterChunksConnection'),
      };
    };
    const first = await page();
    expect(first.cluster).toMatchObject({
      id: 'a-c-sail',
      label: 'sailing',
      labelSource: 'LLM',
      size: 7,
      cohesion: 0.8,
      subjectiveShare: 1,
      keywords: ['sailing', 'sailing more'],
      topic: { id: 'a-t-sea' },
    });
    const seen = [...first.conn.edges];
    expect(first.conn.pageInfo.hasNextPage).toBe(true);
    const second = await page(first.conn.pageInfo.endCursor!);
    seen.push(...second.conn.edges);
    const third = await page(second.conn.pageInfo.endCursor!);
    seen.push(...third.conn.edges);
    expect(third.conn.pageInfo.hasNextPage).toBe(false);
    expect(seen.map((e) => e.node.chunkIndex)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const [top] = seen;
    expect(top!.node).toMatchObject({
      documentId: mem.docIds[0],
      similarity: 0.95,
      isOutlier: false,
      perspective: 'SUBJECTIVE',
      text: `a chunk 0 of ${mem.docIds[0]} in a-c-sail`,
      document: { id: mem.docIds[0], filename: 'a-diary.txt' },
    });
    expect(seen.at(-1)!.node.isOutlier).toBe(true);

    const { memory } = await ok(
      alice.request(MemoryClusterDocument, { id: 'a-c-sail', after: 'not-a-cursor' }),
    );
    expect(memory.cluster!.chunks).toMatchObject({ __typename: 'InvalidInput', code: 'INVALID_INPUT' });
    const missing = await ok(alice.request(MemoryClusterDocument, { id: 'no-such-cluster' }));
    expect(missing.memory.cluster).toBeNull();
  });

  it('finds entities by name and type, pages them, with mentions and relations', async () => {
    const search = async (vars: {
      query?: string;
      type?: 'PERSON' | 'PLACE';
      first?: number;
      after?: string;
    }) =>
      member(
        (await ok(alice.request(MemoryEntitiesDocument, vars))).memory.entities,
        'MemoryEntitiesConnection',
      );

    const anna = await search({ query: 'aNNa' });
    expect(anna.edges.map((e) => e.node.name)).toEqual(['Anna Kowalski']);
    expect(anna.edges[0]!.node).toMatchObject({
      id: 'a-e00',
      type: 'PERSON',
      mentionCount: 100,
      documents: [{ id: mem.docIds[0], filename: 'a-diary.txt' }],
      mentions: [{ documentId: mem.docIds[0], chunkIndex: 0 }],
      relations: [
        {
          id: 'a-r0',
          description: 'sister',
          weight: 3,
          source: { name: 'Anna Kowalski' },
          target: { name: 'Maria Chen' },
        },
      ],
    });

    const places = await search({ type: 'PLACE', first: 100 });
    expect(places.edges).toHaveLength(20);
    expect(places.edges.every((e) => e.node.type === 'PLACE')).toBe(true);

    const names: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await search({ first: 25, after });
      names.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(names).toEqual(mem.entities.map((e) => e.id));

    const maria = await ok(alice.request(MemoryEntityDocument, { id: 'a-e01' }));
    expect(maria.memory.entity).toMatchObject({
      name: 'Maria Chen',
      mentions: [
        { documentId: mem.docIds[1], chunkIndex: 1, text: `a chunk 1 of ${mem.docIds[1]} in a-c-city` },
      ],
    });
    expect(maria.memory.entity!.relations.map((r) => [r.source.id, r.target.id]).sort()).toEqual([
      ['a-e00', 'a-e01'],
      ['a-e01', 'a-e02'],
    ]);

    const bad = await ok(alice.request(MemoryEntitiesDocument, { after: 'nope' }));
    expect(bad.memory.entities).toMatchObject({ __typename: 'InvalidInput' });
  });

  it("never shows one user another's clusters, topics or entities, even under the same version", async () => {
    await publishMemory(app, bob, 'b');
    const { memory } = await ok(bob.request(MemoryClusterDocument, { id: 'a-c-sail' }));
    expect(memory.cluster).toBeNull();
    expect((await ok(bob.request(MemoryTopicDocument, { id: 'a-t-life' }))).memory.topic).toBeNull();
    expect((await ok(bob.request(MemoryEntityDocument, { id: 'a-e00' }))).memory.entity).toBeNull();
    const anna = member(
      (await ok(bob.request(MemoryEntitiesDocument, { query: 'Anna' }))).memory.entities,
      'MemoryEntitiesConnection',
    );
    expect(anna.edges.map((e) => e.node.id)).toEqual(['b-e00']);
    expect(anna.edges[0]!.node.relations.map((r) => r.target.id)).toEqual(['b-e01']);
    // and alice still sees hers
    expect((await ok(alice.request(MemoryClusterDocument, { id: 'a-c-sail' }))).memory.cluster?.id).toBe(
      'a-c-sail',
    );
  });

  it('costs the same SQL for 5 entities with mentions and relations as for 50', async () => {
    await ok(alice.request(MemoryEntitiesDocument, { first: 5 })); // warm the caches of the request path
    let five = 0;
    let fifty = 0;
    const small = await countSql(app, async () => {
      const { memory } = await ok(alice.request(MemoryEntitiesDocument, { first: 5 }));
      five = member(memory.entities, 'MemoryEntitiesConnection').edges.length;
    });
    const large = await countSql(app, async () => {
      const { memory } = await ok(alice.request(MemoryEntitiesDocument, { first: 50 }));
      const edges = member(memory.entities, 'MemoryEntitiesConnection').edges;
      fifty = edges.length;
      expect(edges.every((e) => e.node.mentions.length === 1 && e.node.relations.length >= 1)).toBe(true);
    });
    expect([five, fifty]).toEqual([5, 50]);
    expect(small).toBeGreaterThan(0);
    expect(large).toBe(small);
  });

  it('sets a document perspective for its owner only', async () => {
    const [docId] = mem.docIds;
    const set = await ok(
      alice.request(SetDocumentPerspectiveDocument, { documentId: docId, perspective: 'SUBJECTIVE' }),
    );
    expect(set.setDocumentPerspective).toMatchObject({
      __typename: 'Document',
      id: docId,
      perspective: 'SUBJECTIVE',
    });
    const read = await ok(alice.request(MemoryDocumentPerspectiveDocument, { id: docId }));
    expect(read.document).toMatchObject({ id: docId, perspective: 'SUBJECTIVE' });

    const stolen = await ok(
      bob.request(SetDocumentPerspectiveDocument, { documentId: docId, perspective: 'OBJECTIVE' }),
    );
    expect(stolen.setDocumentPerspective).toMatchObject({ __typename: 'NotFound', code: 'NOT_FOUND' });
    const after = await ok(alice.request(MemoryDocumentPerspectiveDocument, { id: docId }));
    expect(after.document).toMatchObject({ perspective: 'SUBJECTIVE' });
    const junk = await ok(
      alice.request(SetDocumentPerspectiveDocument, { documentId: 'x', perspective: 'AUTO' }),
    );
    expect(junk.setDocumentPerspective.__typename).toBe('NotFound');
  });

  it('queues a rebuild, and refuses a second while the first is queued', async () => {
    const carol = app.client();
    const first = await ok(carol.request(RebuildMemoryDocument, { full: true }));
    const queued = member(first.rebuildMemory, 'MemoryVersion');
    expect(queued).toMatchObject({ status: 'QUEUED', mode: 'FULL', readyAt: null, counts: null });
    const second = await ok(carol.request(RebuildMemoryDocument, {}));
    expect(member(second.rebuildMemory, 'MemoryBuildRunning')).toMatchObject({
      version: queued.version,
      code: 'MEMORY_BUILD_RUNNING',
    });
    const { memory } = await ok(carol.request(MemoryOverviewDocument, {}));
    expect(memory).toMatchObject({ status: 'QUEUED', version: null, building: { version: queued.version } });
  });

  it('streams memory progress and resumes after a seq', async () => {
    const dave = app.client();
    const event = (stage: 'VECTORS' | 'CLUSTERING', done: number) => ({
      version: 'v-progress',
      stage,
      done,
      total: 4,
      attempt: 1,
      error: null,
    });
    const seq1 = await app.services.events.publish('memory', dave.userId, event('VECTORS', 1));
    const live = dave.subscribeWs(MemoryProgressDocument, { afterSeq: seq1 - 1 });
    const [replayed] = await live.take(1);
    expect(replayed!.data!.memoryProgress).toMatchObject({
      __typename: 'MemoryProgress',
      stage: 'VECTORS',
      seq: seq1,
    });
    const seq2 = await app.services.events.publish('memory', dave.userId, event('CLUSTERING', 2));
    const [next] = await live.take(1);
    expect(next!.data!.memoryProgress).toMatchObject({
      __typename: 'MemoryProgress',
      version: 'v-progress',
      stage: 'CLUSTERING',
      done: 2,
      total: 4,
      attempt: 1,
      error: null,
      seq: seq2,
    });
    live.close();

    const resumed = dave.subscribeWs(MemoryProgressDocument, { afterSeq: seq1 });
    const [again] = await resumed.take(1);
    expect(again!.data!.memoryProgress).toMatchObject({ stage: 'CLUSTERING', seq: seq2 });
    resumed.close();
    // another user's stream carries none of it
    const other = bob.subscribeWs(MemoryProgressDocument, {});
    await expect(other.next(500)).rejects.toThrow(/timed out/);
    other.close();
  });

  it('ends a resume with ReplayGap once the events asked for are gone', async () => {
    const short = await startTestApp({ env: { EVENT_REPLAY_TTL_SEC: '1' } });
    try {
      const erin = short.client();
      const progress = {
        version: 'v-gap',
        stage: 'VECTORS' as const,
        done: 0,
        total: 1,
        attempt: 1,
        error: null,
      };
      await short.services.events.publish('memory', erin.userId, progress);
      const last = await short.services.events.publish('memory', erin.userId, progress);
      await new Promise((r) => setTimeout(r, 1500));
      const resumed = erin.subscribeWs(MemoryProgressDocument, { afterSeq: 0 });
      const [gap] = await resumed.take(1);
      expect(gap!.data!.memoryProgress).toEqual({
        __typename: 'ReplayGap',
        afterSeq: 0,
        oldestSeq: last + 1,
        message: expect.any(String),
        code: 'REPLAY_GAP',
      });
      resumed.close();
    } finally {
      await short.close();
    }
  });
});

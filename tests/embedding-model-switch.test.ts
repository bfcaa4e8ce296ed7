import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SearchDocument } from '../src/sdk/generated/graphql.ts';
import { reembedOnStart } from '../src/services/documents/reembed.service.ts';
import type { TestApp } from './helpers/harness.ts';
import { startTestApp } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';

// DESIGN §5: switching the embedding model fills the new model's collection in the background,
// and search never mixes the two models' vectors.

const essay = [
  'The lighthouse keeper on Skellig Island logged every passing trawler in a leather notebook.',
  'Storms in November tore shingles from the roof, and the keeper patched them with tar and canvas.',
].join(' ');

let apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps) await app.close();
  apps = [];
});

async function search(client: ReturnType<TestApp['client']>, query: string) {
  const res = await client.request(SearchDocument, { query, limit: 10 });
  expect(res.errors).toBeUndefined();
  const result = res.data!.search;
  if (result.__typename !== 'SearchResults') throw new Error(`search failed: ${JSON.stringify(result)}`);
  return result.data;
}

/** The start-up step of a worker, limited to one user (other test files share the database). */
function reembedUser(app: TestApp, userId: string) {
  const { services } = app;
  return reembedOnStart({
    embedder: services.embedder,
    locks: services.locks,
    log: services.log,
    findStale: (model, limit, after) =>
      services.db.documents.listEmbeddedWithOtherModel(model, limit, after, { userId }),
    reprocess: (user, id) => services.documents.reprocess(user, id),
  });
}

describe.each(['weaviate', 'embedded'] as const)('switching the embedding model (%s)', (backend) => {
  it('re-embeds the user’s documents into the new model’s collection; search never mixes the two', async () => {
    const env: Record<string, string> = { VECTOR_BACKEND: backend };
    if (backend === 'embedded') env.EMBEDDED_VECTOR_DIR = await mkdtemp(path.join(tmpdir(), 'twin-switch-'));
    const first = await startTestApp({ withWorkers: true, env });
    apps.push(first);
    const client = first.client();
    const doc = await uploadDocument(client, 'keeper.txt', essay);
    const before = await settled(client, doc.id);
    expect(before).toMatchObject({ status: 'PROCESSED', embeddingModel: 'local-hash-v1@384' });
    expect((await search(client, 'lighthouse keeper trawler'))[0]?.document.id).toBe(doc.id);
    await first.close();
    apps = [];

    // a deployment embedding at another size takes over the same queue
    const second = await startTestApp({
      withWorkers: true,
      env: {
        ...env,
        QUEUE_PREFIX: first.config.QUEUE_PREFIX,
        EVENT_PREFIX: first.config.EVENT_PREFIX,
        EMBEDDING_DIMENSIONS: '64',
      },
    });
    apps.push(second);
    const newModel = second.services.embedder.model;
    expect(newModel).toBe('local-hash-v1@64');
    const client2 = second.client(client.userId);
    const { vectors, db } = second.services;
    // not re-embedded yet: the new model's search finds nothing, never the old model's vectors
    expect(await search(client2, 'lighthouse keeper trawler')).toEqual([]);
    expect(await vectors.countByDocument(client.userId, doc.id, newModel)).toBe(0);

    await reembedUser(second, client.userId);
    const after = await settled(client2, doc.id);
    expect(after).toMatchObject({ status: 'PROCESSED', embeddingModel: newModel });
    const hits = await search(client2, 'lighthouse keeper trawler');
    expect(hits[0]?.document.id).toBe(doc.id);
    expect(new Set(hits.map((h) => h.embeddingModel))).toEqual(new Set([newModel]));
    // the new model's collection holds the document; the old one's no longer does
    expect(await vectors.countByDocument(client.userId, doc.id, newModel)).toBe(after.chunkCount);
    expect(await vectors.countByDocument(client.userId, doc.id, 'local-hash-v1@384')).toBe(0);
    expect(
      await db.documents.listEmbeddedWithOtherModel(newModel, 10, undefined, { userId: client.userId }),
    ).toEqual([]);
  });
});

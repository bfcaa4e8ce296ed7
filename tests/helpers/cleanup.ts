import type { MikroORM } from '@mikro-orm/postgresql';
import pMap from 'p-map';
import type { Config } from '../../src/config.ts';
import type { BlobStore } from '../../src/services/ports/blob-store.ts';
import { isCollectionOf, tenantName } from '../../src/services/ports/vector-index.ts';

/**
 * Removes users from the local services with everything they own: their objects, their Weaviate
 * tenants and their rows (documents, chat sessions and training runs go with the user, ON DELETE
 * CASCADE). For the test suite and the benches, which would otherwise pile data into the dev
 * services (MinIO's scanner walks every object there is).
 */
export async function removeUsers(
  config: Config,
  blobs: BlobStore,
  orm: MikroORM,
  userIds: readonly string[],
): Promise<void> {
  if (userIds.length === 0) return;
  await pMap(userIds, (u) => blobs.deletePrefix(u, ''), { concurrency: 4 });
  if (config.VECTOR_BACKEND === 'weaviate') {
    // every embedding model's collection (DESIGN §5) holds a tenant of the user's
    const schema = (await (await fetch(`${config.WEAVIATE_URL}/v1/schema`)).json()) as {
      classes?: { class: string }[];
    };
    const naming = { prefix: config.WEAVIATE_COLLECTION, defaultModel: config.WEAVIATE_COLLECTION_MODEL };
    for (const { class: name } of schema.classes ?? []) {
      if (!isCollectionOf(naming, name)) continue;
      const res = await fetch(`${config.WEAVIATE_URL}/v1/schema/${name}/tenants`, {
        method: 'DELETE',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(userIds.map(tenantName)),
      });
      if (!res.ok && res.status !== 404)
        throw new Error(`weaviate answered ${res.status} to a tenant delete`);
    }
  }
  await orm.em.getConnection().execute('DELETE FROM users WHERE id IN (?)', [userIds]);
}

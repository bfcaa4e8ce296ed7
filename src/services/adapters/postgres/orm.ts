import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/postgresql';
import { entities } from './entities.ts';
import { InitialSchema } from './migrations/0001-initial-schema.ts';
import { DocumentIngestJob } from './migrations/0002-document-ingest-job.ts';
import { ApiKeys } from './migrations/0003-api-keys.ts';
import { Memory } from './migrations/0004-memory.ts';
import { ChunkTerms } from './migrations/0005-chunk-terms.ts';
import { Training } from './migrations/0006-training.ts';

// Migrations are listed explicitly: no file globbing, so they run the same from source and tests.
export const migrations = [
  { name: '0001-initial-schema', class: InitialSchema },
  { name: '0002-document-ingest-job', class: DocumentIngestJob },
  { name: '0003-api-keys', class: ApiKeys },
  { name: '0004-memory', class: Memory },
  { name: '0005-chunk-terms', class: ChunkTerms },
  { name: '0006-training', class: Training },
];

export type Orm = MikroORM;

export async function createOrm(databaseUrl: string, poolMax = 20): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList: migrations, transactional: true, allOrNothing: true, snapshot: false },
    pool: { max: poolMax },
    debug: false,
    allowGlobalContext: false,
  });
}

export async function migrateUp(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}

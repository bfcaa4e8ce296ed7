import { loadConfig } from '../../../config.ts';
import { logger } from '../../../logger.ts';
import { createOrm, migrateUp } from './orm.ts';

// `node src/db/migrate.ts`: applies pending migrations and exits.
const config = loadConfig();
const orm = await createOrm(config.DATABASE_URL, 2);
try {
  const applied = await migrateUp(orm);
  logger.info({ applied }, applied.length ? 'migrations applied' : 'database schema up to date');
} finally {
  await orm.close();
}

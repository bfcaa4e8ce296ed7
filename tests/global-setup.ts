import { execFileSync } from 'node:child_process';
import { type Config, parseConfig } from '../src/config.ts';
import { createBlobStore } from '../src/container.ts';
import { createOrm, migrateUp } from '../src/services/adapters/postgres/orm.ts';
import { removeUsers } from './helpers/cleanup.ts';

// Runs once before the suite: makes sure the local services run (npm test has started them
// already; a bare `npx vitest` starts them here) and migrates the database once for all files.
export default async function setup() {
  if (!process.env.DATABASE_URL) {
    const out = execFileSync('bash', ['scripts/services.sh', 'up'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    for (const line of out.split('\n')) {
      const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m) process.env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1').replace(/\\ /g, ' ');
    }
  }
  const config = parseConfig({ ...process.env, NODE_ENV: 'test' });
  const orm = await createOrm(config.DATABASE_URL, 2);
  let startedAt: Date;
  try {
    await migrateUp(orm);
    const [row] = await orm.em.getConnection().execute<{ now: Date }[]>('SELECT now() AS now');
    startedAt = row!.now;
  } finally {
    await orm.close();
  }
  return () => removeTestUsers(config, startedAt);
}

/**
 * After the suite: the users this run created (the harness names them `u-{uuid}`) are removed with
 * their objects, vectors and rows, so repeated runs do not pile data into the dev services (MinIO's
 * scanner alone then costs a share of a core while idle). A failure here only warns.
 */
async function removeTestUsers(config: Config, since: Date): Promise<void> {
  const orm = await createOrm(config.DATABASE_URL, 2);
  try {
    const users = (
      await orm.em
        .getConnection()
        .execute<{ id: string }[]>(
          "SELECT id FROM users WHERE id LIKE 'u-%' AND created_at >= ? ORDER BY id",
          [since],
        )
    ).map((u) => u.id);
    if (users.length === 0) return;
    const blobs = await createBlobStore(config);
    await removeUsers(config, blobs, orm, users);
    blobs.close();
  } catch (error) {
    console.warn(`test data of this run was not removed: ${(error as Error).message}`);
  } finally {
    await orm.close();
  }
}

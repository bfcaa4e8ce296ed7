import { execFileSync } from 'node:child_process';
import { parseConfig } from '../src/config.ts';
import { createOrm, migrateUp } from '../src/db/orm.ts';

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
  try {
    await migrateUp(orm);
  } finally {
    await orm.close();
  }
}

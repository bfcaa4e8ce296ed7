import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.ts';

// `npm run migrate:chunks [-- --dry-run] [--user <id>] [--wait]`: documents stored before chunks
// were packed (DESIGN §4) are re-ingested through the ingest queue, which writes each one's chunk
// file and lexical rows and removes its per-chunk objects. The workers (`npm start`) do the work;
// with --wait this command stays until every queued document is processed or failed. Safe to run
// again: a packed document is left alone.
let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      'dry-run': { type: 'boolean', default: false },
      user: { type: 'string' },
      wait: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
}
try {
  args = parse();
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
if (args.values.help) {
  console.log('usage: npm run migrate:chunks [-- --dry-run] [--user <id>] [--wait]');
  process.exit(0);
}
// variables already set win over .env, as with `node --env-file` in scripts/start.sh
if (existsSync('.env')) process.loadEnvFile('.env');
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const { pino } = await import('pino');
const { createServices } = await import('../container.ts');
const { jobs } = await import('../jobs/registry.ts');
const { migrateUp } = await import('../services/adapters/postgres/orm.ts');
const { migrateChunkLayout } = await import('../services/documents/chunk-migration.ts');

const services = await createServices(config, pino({ level: 'warn' }), jobs);
let exitCode = 0;
try {
  await migrateUp(services.orm); // chunk_terms must exist before any ingest writes to it
  const dryRun = args.values['dry-run'];
  const result = await migrateChunkLayout(
    {
      documents: services.db.documents,
      blobs: services.blobs,
      lexical: services.lexical,
      reprocess: (userId, id) => services.documents.reprocess(userId, id),
    },
    {
      userId: args.values.user,
      dryRun,
      onDocument: (doc, outcome, error) =>
        console.log(`${outcome} ${doc.userId} ${doc.id}${error ? `: ${(error as Error).message}` : ''}`),
    },
  );
  console.log(
    `${result.scanned} processed documents, ${result.legacy} in the old chunk layout` +
      (dryRun
        ? ' (dry run: nothing queued)'
        : `, ${result.queued} queued for re-ingest, ${result.failed} failed`),
  );
  if (result.failed) exitCode = 1;
  if (args.values.wait && !dryRun && result.queued) {
    const pending = new Map(result.documents.map((d) => [d.id, d]));
    let failed = 0;
    while (pending.size) {
      await new Promise((r) => setTimeout(r, 1000));
      const byUser = Map.groupBy(pending.values(), (d) => d.userId);
      for (const [userId, docs] of byUser) {
        const rows = await services.db.documents.getMany(
          userId,
          docs.map((d) => d.id),
        );
        docs.forEach((d, i) => {
          const row = rows[i];
          if (row && row.status !== 'processed' && row.status !== 'failed') return;
          if (row?.status === 'failed') {
            failed++;
            console.log(`failed ${userId} ${d.id}: ${row.error ?? ''}`);
          }
          pending.delete(d.id); // processed, failed or deleted meanwhile
        });
      }
      process.stdout.write(`\r${result.queued - pending.size}/${result.queued} re-ingested`);
    }
    console.log(failed ? `\n${failed} failed (see above)` : '\ndone');
    if (failed) exitCode = 1;
  }
} finally {
  await services.close();
}
process.exit(exitCode);

import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config.ts';
import { issueToken } from '../services/auth.service.ts';

// `npm run token -- <userId>` prints a bearer token for that user, signed with AUTH_SECRET (from
// the environment or .env, as `npm start` reads it, so the server accepts the token).
const userId = process.argv[2];
if (!userId) {
  console.error('usage: npm run token -- <userId>');
  process.exit(2);
}
// variables already set win over .env, as with `node --env-file` in scripts/start.sh
if (existsSync('.env')) process.loadEnvFile('.env');
try {
  console.log(issueToken(loadConfig().AUTH_SECRET, userId));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}

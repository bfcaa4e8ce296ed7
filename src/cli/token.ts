import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config.ts';
import { issueToken } from '../services/auth.service.ts';

// `npm run token -- <userId>` prints an access token (a JWT) for that user, signed with AUTH_SECRET
// under AUTH_KEY_ID for AUTH_AUDIENCE, valid AUTH_TOKEN_TTL_SEC (from the environment or .env, as
// `npm start` reads them, so the server accepts the token).
const userId = process.argv[2];
if (!userId) {
  console.error('usage: npm run token -- <userId>');
  process.exit(2);
}
// variables already set win over .env, as with `node --env-file` in scripts/start.sh
if (existsSync('.env')) process.loadEnvFile('.env');
try {
  const config = loadConfig();
  console.log(
    issueToken(config.AUTH_SECRET, userId, {
      keyId: config.AUTH_KEY_ID,
      audience: config.AUTH_AUDIENCE,
      ttlSec: config.AUTH_TOKEN_TTL_SEC,
    }),
  );
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}

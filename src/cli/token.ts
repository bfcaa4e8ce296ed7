import { loadConfig } from '../config.ts';
import { issueToken } from '../services/auth.service.ts';

// `npm run token -- <userId>` prints a bearer token for that user (signed with AUTH_SECRET).
const userId = process.argv[2];
if (!userId) {
  console.error('usage: npm run token -- <userId>');
  process.exit(2);
}
console.log(issueToken(loadConfig().AUTH_SECRET, userId));

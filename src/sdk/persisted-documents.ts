import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { type DocumentNode, print } from 'graphql';
import * as generated from './generated/graphql.ts';

// `node src/sdk/persisted-documents.ts` (run by `npm run codegen`) writes the manifest of the SDK's
// documents, `generated/persisted-documents.json`: sha256 of each document's printed text (the text
// the SDK sends) to that text. The API runs these under PERSISTED_OPERATIONS (DESIGN §10); `--check`
// fails when the committed file drifted from graphql.ts.

/** The hex sha256 a persisted operation is named by: of the document's printed text. */
const persistedHash = (query: string): string => createHash('sha256').update(query).digest('hex');

function isDocument(value: unknown): value is DocumentNode {
  return typeof value === 'object' && value !== null && (value as DocumentNode).kind === 'Document';
}

const entries = Object.entries(generated)
  .filter(([name, value]) => name.endsWith('Document') && isDocument(value))
  .map(([, doc]) => print(doc as DocumentNode))
  .map((query) => [persistedHash(query), query] as const)
  .sort(([a], [b]) => a.localeCompare(b));
const file = new URL('./generated/persisted-documents.json', import.meta.url);
const written = `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`;

if (import.meta.main) {
  if (process.argv.includes('--check')) {
    const committed = await readFile(file, 'utf8').catch(() => '');
    if (committed !== written) {
      console.error('src/sdk/generated/persisted-documents.json is out of date: run `npm run codegen`');
      process.exit(1);
    }
    console.log('persisted-documents.json is up to date');
  } else {
    await writeFile(file, written);
    console.log(`wrote persisted-documents.json (${entries.length} documents)`);
  }
}

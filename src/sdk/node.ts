// The SDK on Node (`digital-twin-server/sdk/node`): the same client, whose `uploadFiles` also takes
// paths, read from disk.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  createTwinClient as createBrowserSafeClient,
  type TwinClient,
  type TwinClientOptions,
} from './index.ts';

export * from './index.ts';

export function createTwinClient(options: TwinClientOptions): TwinClient {
  return createBrowserSafeClient({
    readFile: async (path) => ({ name: basename(path), data: new Uint8Array(await readFile(path)) }),
    ...options,
  });
}

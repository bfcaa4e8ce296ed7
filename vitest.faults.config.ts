import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`, scripts/test-faults.sh): its own services, killed one at
// a time, so one file at a time and long timeouts. Not part of `npm test`'s include pattern.
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['tests/faults/**/*.faults.ts'],
    globalSetup: ['tests/global-setup.ts'],
    env: { EMBEDDER: 'local-hash' },
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});

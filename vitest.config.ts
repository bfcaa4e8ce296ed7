import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node resolves `graphql` to its CommonJS build for Pothos and Yoga; Vite would pick the .mjs
  // build for our sources, and two graphql instances cannot share a schema.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // The suite embeds with the lexical hash embedder (fast, deterministic); the tests of the
    // embedded model (tests/embedder-model.test.ts) ask for it. TEST_EMBEDDER=auto runs all with it.
    env: { EMBEDDER: process.env.TEST_EMBEDDER ?? 'local-hash' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});

import { createHash } from 'node:crypto';
import { type DocumentNode, print } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MeDocument } from '../src/sdk/generated/graphql.ts';
import manifest from '../src/sdk/generated/persisted-documents.json' with { type: 'json' };
import { startTestApp, type TestApp } from './helpers/harness.ts';

// PERSISTED_OPERATIONS (DESIGN §10): `only` runs the SDK's documents by their sha256 alone and
// refuses any other operation, over HTTP and graphql-ws; `allow` runs both.

type Result = {
  data?: { me?: { id: string } } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

const hashOf = (doc: DocumentNode) => createHash('sha256').update(print(doc)).digest('hex');
const persisted = (doc: DocumentNode) => ({ persistedQuery: { version: 1, sha256Hash: hashOf(doc) } });
const ARBITRARY = '{ me { id } }';

async function post(app: TestApp, userId: string, body: Record<string, unknown>): Promise<Result> {
  const res = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.tokenFor(userId)}` },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Result;
}

/** The first result of one operation over graphql-ws. */
async function overWs(app: TestApp, userId: string, payload: { query: string; extensions?: unknown }) {
  const client = createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${app.tokenFor(userId)}` },
    retryAttempts: 0,
  });
  try {
    return await new Promise<Result>((resolve, reject) => {
      client.subscribe(payload as { query: string }, {
        next: (result) => resolve(result as Result),
        error: reject,
        complete: () => resolve({}),
      });
    });
  } finally {
    await client.dispose();
  }
}

describe('PERSISTED_OPERATIONS=only', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { PERSISTED_OPERATIONS: 'only' } });
  });
  afterAll(() => app?.close());

  it("the manifest names the SDK's documents by the sha256 of their printed text", () => {
    expect((manifest as Record<string, string>)[hashOf(MeDocument)]).toBe(print(MeDocument));
  });

  it('runs a persisted hash over HTTP and graphql-ws', async () => {
    const http = await post(app, 'u-persisted-a', { extensions: persisted(MeDocument) });
    expect(http.errors).toBeUndefined();
    expect(http.data?.me?.id).toBe('u-persisted-a');
    const ws = await overWs(app, 'u-persisted-a', { query: '', extensions: persisted(MeDocument) });
    expect(ws.errors).toBeUndefined();
    expect(ws.data?.me?.id).toBe('u-persisted-a');
  });

  it('refuses an arbitrary query, and an unknown hash, with a clear error over both', async () => {
    const http = await post(app, 'u-persisted-b', { query: ARBITRARY });
    expect(http.data ?? null).toBeNull();
    expect(http.errors?.[0]?.message).toMatch(/only persisted operations/);
    expect(http.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    const ws = await overWs(app, 'u-persisted-b', { query: ARBITRARY }).catch((errors: unknown) => ({
      errors: errors as Result['errors'],
    }));
    expect(ws.errors?.[0]?.message).toMatch(/only persisted operations/);
    const unknown = { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } };
    expect((await post(app, 'u-persisted-b', { extensions: unknown })).errors?.[0]?.message).toMatch(
      /PersistedQueryNotFound/,
    );
    const wsUnknown = await overWs(app, 'u-persisted-b', { query: '', extensions: unknown }).catch(
      (errors: unknown) => ({ errors: errors as Result['errors'] }),
    );
    expect(wsUnknown.errors?.[0]?.message).toMatch(/PersistedQueryNotFound/);
  });
});

describe('PERSISTED_OPERATIONS=allow', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { PERSISTED_OPERATIONS: 'allow' } });
  });
  afterAll(() => app?.close());

  it('accepts an arbitrary query beside a persisted hash', async () => {
    expect((await post(app, 'u-persisted-c', { query: ARBITRARY })).data?.me?.id).toBe('u-persisted-c');
    expect((await post(app, 'u-persisted-c', { extensions: persisted(MeDocument) })).data?.me?.id).toBe(
      'u-persisted-c',
    );
    expect((await overWs(app, 'u-persisted-c', { query: ARBITRARY })).data?.me?.id).toBe('u-persisted-c');
  });
});

import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './helpers/harness.ts';

// DESIGN §10: in production GraphiQL and introspection are off unless enabled, /readyz tells the
// public only whether the API is ready, and no internal error message reaches a client.
const OPERATOR_TOKEN = 'operator-token-0123456789';
const SECRET = 'postgres://twin:hunter2-s3cret@10.0.0.7:5432/twin';
const INTROSPECTION = '{ __schema { queryType { name } } }';

let production: TestApp;
let enabled: TestApp;

beforeAll(async () => {
  const env = { NODE_ENV: 'production', REEMBED_ON_START: 'false', READYZ_TOKEN: OPERATOR_TOKEN };
  [production, enabled] = await Promise.all([
    startTestApp({ env }),
    startTestApp({ env: { ...env, GRAPHIQL_ENABLED: 'true' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([production?.close(), enabled?.close()]);
});

type Result = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: unknown }[] };

async function post(app: TestApp, query: string): Promise<{ status: number; text: string; body: Result }> {
  const res = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.tokenFor(app.newUserId())}` },
    body: JSON.stringify({ query }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Result };
}

function overWebSocket(app: TestApp, query: string): Promise<Result> {
  const client = createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${app.tokenFor(app.newUserId())}` },
    retryAttempts: 0,
  });
  return new Promise<Result>((resolve, reject) => {
    let result: Result | undefined;
    client.subscribe(
      { query },
      {
        next: (value) => {
          result = value as Result;
        },
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
        complete: () => resolve(result ?? {}),
      },
    );
  }).finally(() => client.dispose());
}

describe('NODE_ENV=production', () => {
  it('serves no GraphiQL and refuses introspection over HTTP and WebSocket; other queries run', async () => {
    const page = await fetch(production.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);

    const http = await post(production, INTROSPECTION);
    expect(http.body.data ?? null).toBeNull();
    expect(http.body.errors?.[0]?.message).toMatch(/introspection/i);
    const ws = await overWebSocket(production, INTROSPECTION);
    expect(ws.data ?? null).toBeNull();
    expect(ws.errors?.[0]?.message).toMatch(/introspection/i);

    expect((await post(production, '{ __typename me { id } }')).body.errors).toBeUndefined();
  });

  it('serves GraphiQL and introspection when GRAPHIQL_ENABLED=true', async () => {
    const page = await fetch(enabled.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toMatch(/graphiql/i);
    const http = await post(enabled, INTROSPECTION);
    expect(http.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('answers /readyz bare to the public and in detail to the operator token', async () => {
    const readyz = (authorization?: string) =>
      fetch(production.url.replace('/graphql', '/readyz'), {
        headers: authorization ? { authorization } : {},
      });
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', OPERATOR_TOKEN]) {
      const res = await readyz(authorization);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
    }
    const operator = await readyz(`Bearer ${OPERATOR_TOKEN}`);
    expect(operator.status).toBe(200);
    const detail = (await operator.json()) as { ok: boolean; checks: Record<string, { ok: boolean }> };
    expect(detail.ok).toBe(true);
    expect(Object.keys(detail.checks).sort()).toEqual(['objects', 'postgres', 'redis', 'vectors']);
  });

  it('masks an internal error: its message, stack and cause never reach the client', async () => {
    const services = production.services as unknown as Record<string, unknown>;
    const embedder = services.embedder;
    const ensure = production.services.users.ensure;
    services.embedder = {
      get model(): string {
        throw new Error(`connect ECONNREFUSED ${SECRET}`);
      },
    };
    try {
      const inResolver = await post(production, '{ embedder { model } }');
      production.services.users.ensure = async () => {
        throw new Error(`password authentication failed for ${SECRET}`);
      };
      const inContext = await post(production, '{ me { id } }');
      for (const answer of [inResolver, inContext]) {
        expect(answer.body.errors?.map((e) => e.message)).toEqual(['Unexpected error.']);
        expect(answer.text).not.toMatch(/hunter2|ECONNREFUSED|password|stack|originalError/);
      }
    } finally {
      services.embedder = embedder;
      production.services.users.ensure = ensure;
    }
  });
});

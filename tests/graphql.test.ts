import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument } from '../src/sdk/generated/graphql.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';

let app: TestApp;

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

describe('GraphQL API', () => {
  it('answers a query through the generated client, as the authenticated user', async () => {
    const client = app.client();
    const result = await client.request(MeDocument);
    expect(result.errors).toBeUndefined();
    expect(result.data?.me.id).toBe(client.userId);
  });

  it('creates the user on first use', async () => {
    const client = app.client();
    await client.request(MeDocument);
    const rows = await app.services.orm.em
      .getConnection()
      .execute('SELECT id FROM users WHERE id = ?', [client.userId]);
    expect(rows).toHaveLength(1);
  });

  it('rejects a forged token with a clear error', async () => {
    const res = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer v1.YWxpY2U.forged' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    const body = (await res.json()) as { errors?: { message: string }[]; data?: unknown };
    expect(body.data ?? null).toBeNull();
    expect(res.status).toBe(401);
    expect(body.errors?.[0]?.message).toMatch(/invalid token/);
  });

  it('answers malformed GraphQL with a syntax error, not a crash', async () => {
    const res = await fetch(app.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        authorization: `Bearer ${app.tokenFor('x1')}`,
      },
      body: JSON.stringify({ query: '{ me { id }' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errors: { message: string }[] };
    expect(body.errors[0]?.message).toMatch(/Syntax Error/);
  });

  it('serves GraphiQL to a browser and /healthz', async () => {
    const page = await fetch(app.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toMatch(/graphiql/i);
    const health = await fetch(app.url.replace('/graphql', '/healthz'));
    expect(await health.json()).toEqual({ ok: true });
  });
});

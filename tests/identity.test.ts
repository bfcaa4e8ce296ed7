import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  IngestProgressDocument,
  MeDocument,
  RevokeApiKeyDocument,
  TwinReplyDocument,
} from '../src/sdk/generated/graphql.ts';
import { issueToken, signToken } from '../src/services/auth.service.ts';
import { createTestClient, member, type TestClient } from './helpers/client.ts';
import { startTestApp, TEST_AUTH_SECRET, type TestApp } from './helpers/harness.ts';

// DESIGN §10, identity: JWT access tokens (expiry, audience, key rotation) and per-user API keys,
// the same on HTTP, WebSocket and SSE.
const PREVIOUS_SECRET = 'previous-auth-secret-0123456789';
let app: TestApp;

beforeAll(async () => {
  app = await startTestApp({ env: { AUTH_PREVIOUS_SECRET: PREVIOUS_SECRET, AUTH_PREVIOUS_KEY_ID: 'k-old' } });
});
afterAll(() => app?.close());

async function me(authorization: string) {
  const res = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  const body = (await res.json()) as {
    data?: { me: { id: string } } | null;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  return { status: res.status, id: body.data?.me.id, error: body.errors?.[0] };
}

const as = (token: string) => `Bearer ${token}`;

/** Opens a graphql-ws connection; resolves with the close code when the server ends it. */
function wsConnection(connectionParams: Record<string, unknown>) {
  let resolveClosed: (code: number) => void;
  const closed = new Promise<number>((r) => (resolveClosed = r));
  const client = createWsClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: true,
    retryAttempts: 0,
    on: { closed: (event) => resolveClosed((event as { code: number }).code) },
  });
  return { client, closed };
}

async function firstWsEvent(client: ReturnType<typeof createWsClient>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    client.subscribe(
      {
        query: 'subscription ($id: ID!) { twinReply(messageId: $id) { __typename } }',
        variables: { id: '00000000-0000-4000-8000-000000000000' },
      },
      { next: resolve, error: reject, complete: () => {} },
    );
  });
}

describe('access tokens', () => {
  it('accepts a current token and one signed by the previous key during a rotation', async () => {
    expect(await me(as(app.tokenFor('rot-1')))).toMatchObject({ status: 200, id: 'rot-1' });
    const old = issueToken(PREVIOUS_SECRET, 'rot-2', { keyId: 'k-old' });
    expect(await me(as(old))).toMatchObject({ status: 200, id: 'rot-2' });
  });

  it.each([
    [
      'an expired token',
      signToken(TEST_AUTH_SECRET, 'u1', { now: new Date(Date.now() - 7200_000) }),
      /expired/,
    ],
    ['an unknown kid', issueToken(TEST_AUTH_SECRET, 'u1', { keyId: 'k-unknown' }), /unknown key id/],
    ['the previous secret under the current kid', issueToken(PREVIOUS_SECRET, 'u1'), /bad signature/],
    ['a wrong audience', issueToken(TEST_AUTH_SECRET, 'u1', { audience: 'another-service' }), /aud/],
    ['an extra segment', `${issueToken(TEST_AUTH_SECRET, 'u1')}.e30`, /malformed/],
    ['a padded segment', issueToken(TEST_AUTH_SECRET, 'u1').replace('.', '=.'), /malformed/],
  ])('refuses %s with 401 UNAUTHENTICATED', async (_what, token, message) => {
    const result = await me(as(token));
    expect(result.status).toBe(401);
    expect(result.id).toBeUndefined();
    expect(result.error).toMatchObject({
      message: expect.stringMatching(message),
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('refuses a tampered token: another sub under the original signature', async () => {
    const [h, , s] = app.tokenFor('alice').split('.');
    const exp = Math.floor(Date.now() / 1000) + 600;
    const claims = Buffer.from(JSON.stringify({ sub: 'bob', aud: 'digital-twin', exp })).toString(
      'base64url',
    );
    expect(await me(as(`${h}.${claims}.${s}`))).toMatchObject({
      status: 401,
      error: { message: /bad signature/ },
    });
  });

  it('refuses a WebSocket whose token is invalid, and accepts one from the upgrade header', async () => {
    const bad = wsConnection({ authorization: as(`${app.tokenFor('w1')}x`) });
    await expect(firstWsEvent(bad.client)).rejects.toMatchObject({ code: 4403 });
    expect(await bad.closed).toBe(4403);

    const socket = new WebSocket(app.wsUrl, 'graphql-transport-ws', {
      headers: { authorization: as(app.tokenFor('w2')) },
    });
    const ack = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.once('message', (m) => resolve(String(m)));
      socket.once('close', (code) => reject(new Error(`closed ${code}`)));
    });
    expect(JSON.parse(ack)).toMatchObject({ type: 'connection_ack' });
    socket.close();
  });

  it('closes a WebSocket with 4401 when its token expires, ending its subscriptions', async () => {
    const token = issueToken(TEST_AUTH_SECRET, app.newUserId(), { ttlSec: 2 });
    const { client, closed } = wsConnection({ authorization: as(token) });
    const ended = new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription { ingestProgress { seq } }' },
        {
          next: () => {},
          error: resolve,
          complete: () => resolve('completed'),
        },
      );
    });
    const started = Date.now();
    expect(await closed).toBe(4401);
    expect(Date.now() - started).toBeGreaterThan(500);
    expect(await ended).toMatchObject({ code: 4401 });
  });

  it('ends an SSE subscription when its token expires', async () => {
    const userId = app.newUserId();
    const sse = createTestClient({
      url: app.url,
      wsUrl: app.wsUrl,
      token: issueToken(TEST_AUTH_SECRET, userId, { ttlSec: 2 }),
      userId,
    });
    try {
      const sub = sse.subscribeSse(IngestProgressDocument, {});
      const started = Date.now();
      await expect(sub.next(10_000)).rejects.toThrow();
      expect(Date.now() - started).toBeGreaterThan(500);
      // the server releases the stream's listener as the connection closes: let it before the app closes
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      sse.dispose();
    }
  });
});

describe('API keys', () => {
  let owner: TestClient;
  let secret: string;
  let keyId: string;

  beforeAll(async () => {
    owner = app.client();
    const res = await owner.request(CreateApiKeyDocument, { name: ' ci deploys ' });
    expect(res.errors).toBeUndefined();
    const created = member(res.data?.createApiKey, 'CreatedApiKey');
    secret = created.secret;
    keyId = created.apiKey.id;
    expect(created.apiKey).toMatchObject({ name: 'ci deploys', lastUsedAt: null, revokedAt: null });
    expect(secret).toMatch(/^twin_[A-Za-z0-9_-]{43}$/);
    expect(secret.startsWith(created.apiKey.prefix)).toBe(true);
  });

  it('is stored as its SHA-256 only and its secret appears in no later answer', async () => {
    const rows = await app.services.orm.em
      .getConnection()
      .execute<Record<string, unknown>[]>('SELECT * FROM api_keys WHERE id = ?', [keyId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.key_hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(rows[0])).not.toContain(secret.slice(13));
    const listed = await owner.request(ApiKeysDocument);
    expect(listed.data?.apiKeys.map((k) => k.id)).toEqual([keyId]);
    expect(JSON.stringify(listed)).not.toContain(secret.slice(13));
  });

  it('authenticates its owner over HTTP, WebSocket and SSE, and records its last use', async () => {
    const program = createTestClient({ url: app.url, wsUrl: app.wsUrl, token: secret, userId: owner.userId });
    try {
      expect((await program.request(MeDocument)).data?.me.id).toBe(owner.userId);
      const id = '00000000-0000-4000-8000-000000000001';
      for (const sub of [
        program.subscribeWs(TwinReplyDocument, { messageId: id }),
        program.subscribeSse(TwinReplyDocument, { messageId: id }),
      ]) {
        expect((await sub.next()).data?.twinReply).toMatchObject({ __typename: 'NotFound' });
        sub.close();
      }
    } finally {
      program.dispose();
    }
    const [key] = (await owner.request(ApiKeysDocument)).data!.apiKeys;
    expect(key?.lastUsedAt).not.toBeNull();
    expect(Date.now() - Date.parse(key!.lastUsedAt!)).toBeLessThan(60_000);
  });

  it('writes its last use at most once a minute', async () => {
    const conn = app.services.orm.em.getConnection();
    const before = new Date(Date.now() - 30_000);
    await conn.execute('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [before, keyId]);
    expect((await me(as(secret))).status).toBe(200);
    const [row] = await conn.execute<{ last_used_at: Date }[]>(
      'SELECT last_used_at FROM api_keys WHERE id = ?',
      [keyId],
    );
    expect(new Date(row!.last_used_at).getTime()).toBe(before.getTime());
  });

  it("answers NotFound for another user's key, which stays usable", async () => {
    const other = app.client();
    const res = member(
      (await other.request(RevokeApiKeyDocument, { id: keyId })).data?.revokeApiKey,
      'NotFound',
    );
    expect(res).toMatchObject({ code: 'NOT_FOUND', entity: 'ApiKey' });
    expect((await other.request(ApiKeysDocument)).data?.apiKeys).toEqual([]);
    expect(await me(as(secret))).toMatchObject({ status: 200, id: owner.userId });
  });

  it('is refused everywhere once revoked, and stays listed with its revocation time', async () => {
    const revoked = member(
      (await owner.request(RevokeApiKeyDocument, { id: keyId })).data?.revokeApiKey,
      'ApiKey',
    );
    expect(revoked.revokedAt).not.toBeNull();
    expect(await me(as(secret))).toMatchObject({
      status: 401,
      error: { message: 'invalid API key', extensions: { code: 'UNAUTHENTICATED' } },
    });
    const ws = wsConnection({ authorization: as(secret) });
    await expect(firstWsEvent(ws.client)).rejects.toMatchObject({ code: 4403 });
    expect((await owner.request(ApiKeysDocument)).data?.apiKeys[0]?.revokedAt).toBe(revoked.revokedAt);
  });

  it('refuses an empty name as InvalidInput', async () => {
    const res = await owner.request(CreateApiKeyDocument, { name: '  ' });
    expect(member(res.data?.createApiKey, 'InvalidInput').code).toBe('INVALID_INPUT');
  });
});

describe('production start-up', () => {
  /** `undefined` leaves a variable unset. */
  async function startProduction(env: Record<string, string | undefined>) {
    const merged: Record<string, string | undefined> = {
      ...process.env,
      NODE_ENV: 'production',
      PORT: '0',
      ...env,
    };
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, err };
  }

  it('refuses the development secret and anonymous access, saying why', async () => {
    const dev = await startProduction({ AUTH_SECRET: undefined, AUTH_ALLOW_ANONYMOUS: 'false' });
    expect(dev.code).toBe(2);
    expect(dev.err).toMatch(/AUTH_SECRET: the development secret is public/);
    expect(dev.err).not.toMatch(/AUTH_ALLOW_ANONYMOUS/);
    const anonymous = await startProduction({ AUTH_SECRET: TEST_AUTH_SECRET, AUTH_ALLOW_ANONYMOUS: 'true' });
    expect(anonymous.code).toBe(2);
    expect(anonymous.err).toMatch(/AUTH_ALLOW_ANONYMOUS: anonymous access is for development only/);
    expect(anonymous.err).not.toMatch(/AUTH_SECRET/);
  });
});

import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import type { ApiKeysService } from './api-keys.service.ts';
import {
  AuthService,
  InvalidTokenError,
  issueToken,
  signToken,
  TOKEN_DEFAULTS,
  verifyToken,
} from './auth.service.ts';

const secret = 'test-secret-0123456789';
const previous = 'previous-secret-0123456789';
const verifier = {
  keys: [
    { keyId: 'k2', secret },
    { keyId: 'k1', secret: previous },
  ],
  audience: 'twin-test',
};
const opts = { keyId: 'k2', audience: 'twin-test' };
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const hs256 = (key: string, input: string) => createHmac('sha256', key).update(input).digest('base64url');

describe('access tokens', () => {
  it('round-trips a user id and its expiry', async () => {
    const now = new Date();
    const { userId, expiresAt } = await verifyToken(
      issueToken(secret, 'alice-42', { ...opts, now }),
      verifier,
    );
    expect(userId).toBe('alice-42');
    expect(expiresAt.getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000 + TOKEN_DEFAULTS.ttlSec * 1000);
  });

  it('issues what jose itself signs and verifies', async () => {
    const joseToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'k2' })
      .setSubject('bob')
      .setAudience('twin-test')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    expect((await verifyToken(joseToken, verifier)).userId).toBe('bob');
  });

  it('accepts the previous key during a rotation, refuses an unknown kid and a wrong secret', async () => {
    expect((await verifyToken(issueToken(previous, 'u1', { ...opts, keyId: 'k1' }), verifier)).userId).toBe(
      'u1',
    );
    await expect(verifyToken(issueToken(secret, 'u1', { ...opts, keyId: 'k0' }), verifier)).rejects.toThrow(
      /unknown key id/,
    );
    await expect(verifyToken(issueToken(previous, 'u1', opts), verifier)).rejects.toThrow(/bad signature/);
  });

  it('refuses an expired token, a wrong audience and a token with no expiry', async () => {
    const past = new Date(Date.now() - 2 * 3600_000);
    await expect(verifyToken(issueToken(secret, 'u1', { ...opts, now: past }), verifier)).rejects.toThrow(
      /token expired/,
    );
    await expect(
      verifyToken(issueToken(secret, 'u1', { ...opts, audience: 'other' }), verifier),
    ).rejects.toThrow(/aud claim/);
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k2' })}.${b64({ sub: 'u1', aud: 'twin-test' })}`;
    await expect(verifyToken(`${input}.${hs256(secret, input)}`, verifier)).rejects.toThrow(/exp/);
  });

  it('pins the algorithm: alg none and HS512 are refused even with a valid MAC', async () => {
    const claims = b64({ sub: 'u1', aud: 'twin-test', exp: Math.floor(Date.now() / 1000) + 60 });
    const none = `${b64({ alg: 'none', typ: 'JWT', kid: 'k2' })}.${claims}.`;
    await expect(verifyToken(none, verifier)).rejects.toThrow(InvalidTokenError);
    const h512 = `${b64({ alg: 'HS512', typ: 'JWT', kid: 'k2' })}.${claims}`;
    const mac = createHmac('sha512', secret).update(h512).digest('base64url');
    await expect(verifyToken(`${h512}.${mac}`, verifier)).rejects.toThrow(InvalidTokenError);
  });

  it('refuses tampering, extra segments, padding and trailing bytes', async () => {
    const token = issueToken(secret, 'alice', opts);
    const [h, p, s] = token.split('.') as [string, string, string];
    const forged = `${h}.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'bob' })}.${s}`;
    for (const bad of [
      forged,
      `${token}.x`,
      `${h}.${p}.${s}.`,
      `${h}.${p}=.${s}`,
      `${token}=`,
      `${token} `,
      `${token}\n`,
      `${h}.${p}.${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`,
      'v1.YWxpY2U.forged',
    ]) {
      await expect(verifyToken(bad, verifier), JSON.stringify(bad)).rejects.toThrow(InvalidTokenError);
    }
  });

  it('refuses user ids that are no storage segment, such as . and ..', async () => {
    for (const userId of ['.', '..', '...', 'a/b', 'x'.repeat(129)]) {
      await expect(verifyToken(signToken(secret, userId, opts), verifier), userId).rejects.toThrow(
        /invalid user id/,
      );
      expect(() => issueToken(secret, userId), userId).toThrow(/invalid user id/);
    }
    expect((await verifyToken(issueToken(secret, 'a.b_c-1', opts), verifier)).userId).toBe('a.b_c-1');
  });
});

describe('AuthService', () => {
  const apiKeys = {
    verify: async (key: string) =>
      key === `twin_${'k'.repeat(43)}` ? { userId: 'prog', keyId: 'id1' } : null,
  } as unknown as ApiKeysService;
  const options = { ...verifier, ttlSec: 60, allowAnonymous: false, anonymousUserId: '1' };
  const auth = new AuthService({ apiKeys }, options);

  it('maps a missing credential to the anonymous user only when allowed', async () => {
    await expect(auth.authenticate(undefined)).rejects.toThrow(/missing/);
    const open = new AuthService({ apiKeys }, { ...options, allowAnonymous: true });
    expect(await open.authenticate(undefined)).toEqual({ userId: '1', via: 'anonymous' });
  });

  it('never takes a present but invalid credential as anonymous', async () => {
    const open = new AuthService({ apiKeys }, { ...options, allowAnonymous: true });
    for (const bad of ['Basic abc', 'Bearer', 'Bearer x y', 'Bearer v1.YWxpY2U.forged', 42, { a: 1 }]) {
      await expect(open.authenticate(bad), JSON.stringify(bad)).rejects.toThrow(InvalidTokenError);
    }
    await expect(open.authenticate(`Bearer twin_${'x'.repeat(43)}`)).rejects.toThrow(/invalid API key/);
  });

  it('authenticates its own tokens and API keys', async () => {
    const identity = await auth.authenticate(`Bearer ${auth.issue('u7')}`);
    expect(identity).toMatchObject({ userId: 'u7', via: 'token' });
    expect(identity.expiresAt!.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    expect(await auth.authenticate(`Bearer twin_${'k'.repeat(43)}`)).toEqual({
      userId: 'prog',
      via: 'api-key',
    });
  });

  it('takes a token it verified again until its expiry, and refuses it once expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const short = new AuthService({ apiKeys }, { ...options, ttlSec: 2 });
      const token = `Bearer ${short.issue('u8')}`;
      expect(await short.authenticate(token)).toMatchObject({ userId: 'u8', via: 'token' });
      expect(await short.authenticate(token)).toMatchObject({ userId: 'u8', via: 'token' });
      vi.advanceTimersByTime(3_000);
      await expect(short.authenticate(token)).rejects.toThrow(/token expired/);
      // a failure is not kept: a forged token is refused on every try
      const forged = `${token.slice(0, -2)}xx`;
      await expect(short.authenticate(forged)).rejects.toThrow(/bad signature|malformed/);
      await expect(short.authenticate(forged)).rejects.toThrow(/bad signature|malformed/);
    } finally {
      vi.useRealTimers();
    }
  });
});

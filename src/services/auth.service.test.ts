import { describe, expect, it } from 'vitest';
import { authenticate, InvalidTokenError, issueToken, signToken, verifyToken } from './auth.service.ts';

const secret = 'test-secret-0123456789';
const options = { secret, allowAnonymous: false, anonymousUserId: '1' };

describe('auth tokens', () => {
  it('round-trips a user id', () => {
    expect(verifyToken(secret, issueToken(secret, 'alice-42'))).toBe('alice-42');
  });

  it('rejects a token signed with another secret or for another user', () => {
    const token = issueToken('other-secret-0123456789', 'alice');
    expect(() => verifyToken(secret, token)).toThrow(InvalidTokenError);
    const [v, , mac] = issueToken(secret, 'alice').split('.');
    const forged = `${v}.${Buffer.from('bob').toString('base64url')}.${mac}`;
    expect(() => verifyToken(secret, forged)).toThrow(InvalidTokenError);
  });

  it('refuses user ids that are no storage segment, such as . and ..', () => {
    for (const userId of ['.', '..', '...', 'a/b', 'x'.repeat(129)]) {
      expect(() => verifyToken(secret, signToken(secret, userId)), userId).toThrow(/invalid user id/);
      expect(() => issueToken(secret, userId), userId).toThrow(/invalid user id/);
    }
    expect(verifyToken(secret, issueToken(secret, 'a.b_c-1'))).toBe('a.b_c-1');
  });

  it('maps a missing header to the anonymous user only when allowed', () => {
    expect(() => authenticate(undefined, options)).toThrow(/missing/);
    expect(authenticate(undefined, { ...options, allowAnonymous: true })).toBe('1');
    expect(authenticate(`Bearer ${issueToken(secret, 'u7')}`, options)).toBe('u7');
    expect(() => authenticate('Basic abc', options)).toThrow(/Bearer/);
  });
});

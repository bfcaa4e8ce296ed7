import { createHmac, timingSafeEqual } from 'node:crypto';
import { isStorageSafeId } from './tenant-keys.ts';

// Stateless bearer tokens: `v1.<base64url userId>.<base64url HMAC-SHA256(secret, userId)>`.
// Issued by `npm run token -- <userId>` or by an identity provider that shares AUTH_SECRET.

export class InvalidTokenError extends Error {
  readonly code = 'INVALID_TOKEN';
}

export function issueToken(secret: string, userId: string): string {
  // a token the server would refuse is never issued
  if (userId.length > 128 || !isStorageSafeId(userId)) {
    throw new InvalidTokenError(
      `invalid user id ${JSON.stringify(userId)}: use letters, digits, '.', '_' or '-', not only dots`,
    );
  }
  return signToken(secret, userId);
}

/** Signs any id as given; `issueToken` is the checked way in (tests forge bad tokens with this). */
export function signToken(secret: string, userId: string): string {
  const mac = createHmac('sha256', secret).update(userId).digest('base64url');
  return `v1.${Buffer.from(userId).toString('base64url')}.${mac}`;
}

export function verifyToken(secret: string, token: string): string {
  const [version, encodedUser, mac] = token.split('.');
  if (version !== 'v1' || !encodedUser || !mac) throw new InvalidTokenError('malformed token');
  const userId = Buffer.from(encodedUser, 'base64url').toString('utf8');
  const expected = createHmac('sha256', secret).update(userId).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new InvalidTokenError('invalid token');
  }
  // the user id names the tenant's storage prefix: `.` and `..` would name its parent
  if (userId.length > 128 || !isStorageSafeId(userId)) {
    throw new InvalidTokenError('invalid user id in token: 1 to 128 of A-Z a-z 0-9 . _ -, and not only dots');
  }
  return userId;
}

/** Resolves the caller from an Authorization header value; anonymous callers map to a configured user. */
export function authenticate(
  header: string | null | undefined,
  options: { secret: string; allowAnonymous: boolean; anonymousUserId: string },
): string {
  if (!header) {
    if (options.allowAnonymous) return options.anonymousUserId;
    throw new InvalidTokenError('missing Authorization: Bearer token');
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new InvalidTokenError('Authorization must be "Bearer <token>"');
  return verifyToken(options.secret, match[1]!);
}

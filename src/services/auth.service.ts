import { createHmac } from 'node:crypto';
import { errors, type JWTHeaderParameters, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { ApiKeysService } from './api-keys.service.ts';
import { isApiKeyShaped } from './api-keys.service.ts';
import { isStorageSafeId } from './tenant-keys.ts';

// Access tokens are HS256 JWTs (DESIGN §10): `sub` the user id, `aud`, `exp`, and the signing key's
// `kid` in the header, so a rotation can accept the previous key for a while. Programs may use an
// API key instead (api-keys.service.ts); both arrive as `Authorization: Bearer <credential>`.

/** The configuration defaults (config.ts): a token issued with no options verifies against them. */
export const TOKEN_DEFAULTS = { keyId: 'dev', audience: 'digital-twin', ttlSec: 3600 } as const;

export class InvalidTokenError extends Error {
  readonly code = 'INVALID_TOKEN';
}

export interface SigningKey {
  keyId: string;
  secret: string;
}

export interface TokenVerifier {
  /** The current key first; a previous key during a rotation. */
  keys: readonly SigningKey[];
  audience: string;
}

export interface TokenOptions {
  keyId?: string;
  audience?: string;
  ttlSec?: number;
  now?: Date;
}

export interface Identity {
  userId: string;
  via: 'token' | 'api-key' | 'anonymous';
  /** When the credential stops being valid (tokens only). */
  expiresAt?: Date;
}

const USER_ID_MAX = 128;
const TOKEN_MAX_CHARS = 4096;
// three base64url segments and nothing else; an HS256 signature is 32 bytes, 43 characters
const COMPACT_HS256 = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;

const validUserId = (id: string) => id.length <= USER_ID_MAX && isStorageSafeId(id);

export function issueToken(secret: string, userId: string, options: TokenOptions = {}): string {
  // a token the server would refuse is never issued
  if (!validUserId(userId)) {
    throw new InvalidTokenError(
      `invalid user id ${JSON.stringify(userId)}: use letters, digits, '.', '_' or '-', not only dots`,
    );
  }
  return signToken(secret, userId, options);
}

/**
 * Signs any id as given; `issueToken` is the checked way in (tests forge bad tokens with this).
 * Synchronous on purpose (jose only signs asynchronously) so callers keep a plain function; the
 * output is a standard compact JWS that jose verifies below.
 */
export function signToken(secret: string, userId: string, options: TokenOptions = {}): string {
  const iat = Math.floor((options.now?.getTime() ?? Date.now()) / 1000);
  const header = { alg: 'HS256', typ: 'JWT', kid: options.keyId ?? TOKEN_DEFAULTS.keyId };
  const claims = {
    sub: userId,
    aud: options.audience ?? TOKEN_DEFAULTS.audience,
    iat,
    exp: iat + (options.ttlSec ?? TOKEN_DEFAULTS.ttlSec),
  };
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** The canonical encoding only: no padding, no stray bits a lenient decoder would drop. */
const canonicalBase64url = (segment: string) =>
  Buffer.from(segment, 'base64url').toString('base64url') === segment;

export async function verifyToken(
  token: string,
  verifier: TokenVerifier,
): Promise<{ userId: string; expiresAt: Date }> {
  const parts = token.length <= TOKEN_MAX_CHARS ? COMPACT_HS256.exec(token) : null;
  if (!parts?.slice(1).every(canonicalBase64url)) throw new InvalidTokenError('invalid token: malformed');
  const keyFor = (header: JWTHeaderParameters) => {
    const key = verifier.keys.find((k) => k.keyId === header.kid);
    if (!key) throw new InvalidTokenError('invalid token: unknown key id');
    return new TextEncoder().encode(key.secret);
  };
  let payload: { sub?: unknown; exp?: unknown };
  try {
    ({ payload } = await jwtVerify(token, keyFor, {
      algorithms: ['HS256'],
      audience: verifier.audience,
      typ: 'JWT',
      requiredClaims: ['sub', 'exp'],
    }));
  } catch (error) {
    throw describeFailure(error);
  }
  const userId = payload.sub;
  // the user id names the tenant's storage prefix: `.` and `..` would name its parent
  if (typeof userId !== 'string' || !validUserId(userId)) {
    throw new InvalidTokenError('invalid user id in token: 1 to 128 of A-Z a-z 0-9 . _ -, and not only dots');
  }
  return { userId, expiresAt: new Date(Number(payload.exp) * 1000) };
}

function describeFailure(error: unknown): InvalidTokenError {
  if (error instanceof InvalidTokenError) return error;
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('token expired');
  if (error instanceof errors.JWTClaimValidationFailed)
    return new InvalidTokenError(`invalid token: ${error.claim} claim ${error.reason}`);
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new InvalidTokenError('invalid token: algorithm not allowed');
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new InvalidTokenError('invalid token: bad signature');
  return new InvalidTokenError('invalid token');
}

export interface AuthOptions extends TokenVerifier {
  ttlSec: number;
  allowAnonymous: boolean;
  anonymousUserId: string;
}

/** Verified tokens kept (most recent), so a client's every request does not verify its token again. */
const VERIFIED_MAX = 10_000;

/** Resolves the caller from an Authorization value: a JWT, an API key, or (if allowed) nobody. */
export class AuthService {
  private readonly apiKeys: ApiKeysService;
  private readonly options: AuthOptions;
  // Verifying is a pure function of the token and the configured keys (fixed for the process), and
  // costs ~1 ms of CPU (WebCrypto key import and HMAC): a token that verified once is taken again
  // until its expiry. Only successes are kept; a token past `exp` is verified (and refused) anew.
  private readonly verified = new LRUCache<string, { userId: string; expiresAt: Date }>({
    max: VERIFIED_MAX,
  });

  constructor(deps: { apiKeys: ApiKeysService }, options: AuthOptions) {
    this.apiKeys = deps.apiKeys;
    this.options = options;
  }

  /** A token for the user, signed with the current key (`npm run token`, tests). */
  issue(userId: string, now?: Date): string {
    const [current] = this.options.keys;
    if (!current) throw new Error('no signing key configured');
    return issueToken(current.secret, userId, {
      keyId: current.keyId,
      audience: this.options.audience,
      ttlSec: this.options.ttlSec,
      now,
    });
  }

  /** A credential that is present but not valid is refused, never taken as anonymous. */
  async authenticate(authorization: unknown): Promise<Identity> {
    if (authorization === undefined || authorization === null || authorization === '') {
      if (this.options.allowAnonymous) return { userId: this.options.anonymousUserId, via: 'anonymous' };
      throw new InvalidTokenError('missing Authorization: Bearer token');
    }
    const match = typeof authorization === 'string' ? /^Bearer +(\S+)$/i.exec(authorization) : null;
    if (!match) throw new InvalidTokenError('Authorization must be "Bearer <token>"');
    const credential = match[1]!;
    if (isApiKeyShaped(credential)) {
      const key = await this.apiKeys.verify(credential);
      if (!key) throw new InvalidTokenError('invalid API key');
      return { userId: key.userId, via: 'api-key' };
    }
    const { userId, expiresAt } = await this.verifyCached(credential);
    return { userId, via: 'token', expiresAt };
  }

  private async verifyCached(token: string): Promise<{ userId: string; expiresAt: Date }> {
    const known = this.verified.get(token);
    if (known && known.expiresAt.getTime() > Date.now()) return known;
    this.verified.delete(token);
    const result = await verifyToken(token, this.options);
    this.verified.set(token, result);
    return result;
  }
}

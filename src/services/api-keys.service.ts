import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { isUuid } from './ids.ts';
import type { ApiKeyRow, ApiKeysRepository } from './ports/repositories.ts';

// Per-user API keys for programs (DESIGN §10): `twin_` and 32 random bytes, shown once at creation
// and stored as their SHA-256. A slow password hash (bcrypt, argon2) protects guessable secrets;
// 256 random bits cannot be guessed, and a fast hash keeps the lookup on every request cheap.

const MARKER = 'twin_';
const API_KEY_FORMAT = /^twin_[A-Za-z0-9_-]{43}$/;
/** What a list shows of a key: the marker and its first 8 characters. */
const PREFIX_CHARS = MARKER.length + 8;
const NAME_MAX_CHARS = 100;
const MAX_ACTIVE_KEYS_PER_USER = 50;
/** lastUsedAt is written at most this often per key, not on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export const isApiKeyShaped = (credential: string) => credential.startsWith(MARKER);

export const hashApiKey = (secret: string) => createHash('sha256').update(secret).digest('hex');

export type ApiKeyView = Omit<ApiKeyRow, 'userId'>;

const view = ({ userId: _, ...key }: ApiKeyRow): ApiKeyView => key;

export class ApiKeysService {
  private readonly apiKeys: ApiKeysRepository;

  constructor(deps: { apiKeys: ApiKeysRepository }) {
    this.apiKeys = deps.apiKeys;
  }

  /** The secret is returned here only; the row keeps its hash. */
  async create(userId: string, name: string): Promise<{ apiKey: ApiKeyView; secret: string }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > NAME_MAX_CHARS || /\p{Cc}/u.test(trimmed)) {
      throw new InvalidInputError(`an API key name is 1 to ${NAME_MAX_CHARS} printable characters`);
    }
    if ((await this.apiKeys.countActive(userId)) >= MAX_ACTIVE_KEYS_PER_USER) {
      throw new InvalidInputError(`at most ${MAX_ACTIVE_KEYS_PER_USER} active API keys: revoke one first`);
    }
    const secret = MARKER + randomBytes(32).toString('base64url');
    const row = await this.apiKeys.insert({
      id: randomUUID(),
      userId,
      name: trimmed,
      prefix: secret.slice(0, PREFIX_CHARS),
      keyHash: hashApiKey(secret),
      scopes: ['all'],
    });
    return { apiKey: view(row), secret };
  }

  /** Newest first, revoked keys included. */
  async list(userId: string): Promise<ApiKeyView[]> {
    return (await this.apiKeys.list(userId)).map(view);
  }

  /** Revoked from now on (a second revoke keeps the first time); another user's key is NotFound. */
  async revoke(userId: string, id: string): Promise<ApiKeyView> {
    const row = isUuid(id) ? await this.apiKeys.revoke(userId, id) : null;
    if (!row) throw new NotFoundError('ApiKey', id);
    return view(row);
  }

  /** The owner of a valid, unrevoked key, else null; records the use at most once a minute. */
  async verify(secret: string, now = new Date()): Promise<{ userId: string; keyId: string } | null> {
    if (!API_KEY_FORMAT.test(secret)) return null;
    const row = await this.apiKeys.findByHash(hashApiKey(secret));
    if (!row || row.revokedAt) return null;
    const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
    if (!row.lastUsedAt || row.lastUsedAt < staleBefore) await this.apiKeys.touch(row.id, now, staleBefore);
    return { userId: row.userId, keyId: row.id };
  }
}

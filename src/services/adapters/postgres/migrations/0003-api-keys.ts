import { Migration } from '@mikro-orm/migrations';

// Per-user API keys for programs (DESIGN §3, §10): only the SHA-256 of a key is kept, unique so a
// presented key is found by one index lookup; revoked keys stay listed with their revocation time.
export class ApiKeys extends Migration {
  override name = '0003-api-keys';

  override up(): void {
    this.addSql(`CREATE TABLE api_keys (
      id UUID PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      prefix TEXT NOT NULL,
      key_hash CHAR(64) NOT NULL UNIQUE,
      scopes TEXT[] NOT NULL DEFAULT '{all}',
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      last_used_at TIMESTAMPTZ,
      revoked_at TIMESTAMPTZ
    )`);
    this.addSql('CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at DESC, id DESC)');
  }

  override down(): void {
    this.addSql('DROP TABLE IF EXISTS api_keys');
  }
}

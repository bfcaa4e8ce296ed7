import { Migration } from '@mikro-orm/migrations';

// DESIGN §3: the seed's four tables with TEXT user ids and the added columns.
export class InitialSchema extends Migration {
  override name = '0001-initial-schema';

  override up(): void {
    this.addSql(`CREATE TABLE users (
      id TEXT PRIMARY KEY,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    this.addSql(`CREATE TABLE documents (
      id UUID PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      filename TEXT NOT NULL,
      content_type TEXT NOT NULL,
      s3_path TEXT NOT NULL,
      uploaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      processed BOOLEAN NOT NULL DEFAULT false,
      chunk_count INTEGER NOT NULL DEFAULT 0,
      content_hash CHAR(64) NOT NULL,
      status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'processed', 'failed')),
      error TEXT,
      kind TEXT NOT NULL DEFAULT 'document' CHECK (kind IN ('document', 'chat')),
      embedding_model TEXT,
      bytes BIGINT NOT NULL DEFAULT 0,
      UNIQUE (user_id, content_hash)
    )`);
    this.addSql('CREATE INDEX documents_user_uploaded_idx ON documents (user_id, uploaded_at DESC, id DESC)');
    this.addSql(`CREATE TABLE training_jobs (
      id UUID PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
      attempt INTEGER NOT NULL DEFAULT 1,
      started_at TIMESTAMPTZ,
      completed_at TIMESTAMPTZ,
      lora_path TEXT,
      error TEXT,
      stage TEXT,
      progress DOUBLE PRECISION NOT NULL DEFAULT 0,
      base_model TEXT,
      dataset_path TEXT,
      gguf_path TEXT,
      config JSONB,
      metrics JSONB,
      modal_call_id TEXT
    )`);
    this.addSql('CREATE INDEX training_jobs_user_idx ON training_jobs (user_id, started_at DESC)');
    this.addSql(`CREATE TABLE chat_sessions (
      id UUID PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      title TEXT,
      summary TEXT,
      session_s3_path TEXT NOT NULL,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      processed_for_training BOOLEAN NOT NULL DEFAULT false
    )`);
    this.addSql(
      'CREATE INDEX chat_sessions_user_created_idx ON chat_sessions (user_id, created_at DESC, id DESC)',
    );
    this.addSql(`INSERT INTO users (id) VALUES ('1') ON CONFLICT DO NOTHING`);
  }

  override down(): void {
    this.addSql('DROP TABLE IF EXISTS chat_sessions, training_jobs, documents, users');
  }
}

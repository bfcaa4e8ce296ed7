import { Migration } from '@mikro-orm/migrations';

// L1 memory (MEMORY-TRAINING.md A5, A7; DESIGN §3): a document's perspective, and the PostgreSQL
// mirror of each memory version that GraphQL reads. Every row is keyed by (user_id, version, …),
// so a version's rows are written while it builds and removed as a whole once two newer ones are
// ready; at most one version of a user's is `ready` (partial unique index).
const TABLES = [
  'memory_relations',
  'memory_entity_mentions',
  'memory_entities',
  'memory_chunk_assignments',
  'memory_clusters',
  'memory_topics',
  'memory_versions',
];

export class Memory extends Migration {
  override name = '0004-memory';

  override up(): void {
    this.addSql(`ALTER TABLE documents ADD COLUMN perspective TEXT NOT NULL DEFAULT 'auto'
      CHECK (perspective IN ('auto', 'subjective', 'objective'))`);
    // listProcessed: a user's processed documents, oldest first
    this.addSql(
      "CREATE INDEX documents_user_processed_idx ON documents (user_id, uploaded_at, id) WHERE status = 'processed'",
    );
    this.addSql(`CREATE TABLE memory_versions (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      parent TEXT,
      mode TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),
      status TEXT NOT NULL CHECK (status IN ('queued', 'building', 'ready', 'failed', 'superseded')),
      stage TEXT,
      error TEXT,
      counts JSONB,
      created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      ready_at TIMESTAMPTZ,
      PRIMARY KEY (user_id, version)
    )`);
    this.addSql(
      "CREATE UNIQUE INDEX memory_versions_one_ready ON memory_versions (user_id) WHERE status = 'ready'",
    );
    this.addSql(
      'CREATE INDEX memory_versions_latest_idx ON memory_versions (user_id, created_at DESC, version DESC)',
    );
    this.addSql(`CREATE TABLE memory_topics (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      topic_id TEXT NOT NULL,
      parent_id TEXT,
      depth INTEGER NOT NULL,
      label TEXT NOT NULL,
      summary TEXT NOT NULL,
      keywords TEXT[] NOT NULL,
      cluster_ids TEXT[] NOT NULL,
      size INTEGER NOT NULL,
      PRIMARY KEY (user_id, version, topic_id)
    )`);
    this.addSql(
      'CREATE INDEX memory_topics_order_idx ON memory_topics (user_id, version, depth, size DESC, topic_id)',
    );
    this.addSql(`CREATE TABLE memory_clusters (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      cluster_id TEXT NOT NULL,
      topic_id TEXT NOT NULL,
      size INTEGER NOT NULL,
      label TEXT NOT NULL,
      summary TEXT NOT NULL,
      keywords TEXT[] NOT NULL,
      label_source TEXT NOT NULL,
      representative_chunk_ids TEXT[] NOT NULL,
      cohesion DOUBLE PRECISION NOT NULL,
      subjective_share DOUBLE PRECISION NOT NULL,
      PRIMARY KEY (user_id, version, cluster_id)
    )`);
    // topic_id is the chunk's depth-0 topic (its cluster's topic walked up to the top)
    this.addSql(`CREATE TABLE memory_chunk_assignments (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      chunk_id TEXT NOT NULL,
      document_id TEXT NOT NULL,
      chunk_index INTEGER NOT NULL,
      text_sha TEXT NOT NULL,
      created_at TIMESTAMPTZ NOT NULL,
      cluster_id TEXT NOT NULL,
      topic_id TEXT,
      similarity DOUBLE PRECISION NOT NULL,
      is_outlier BOOLEAN NOT NULL,
      perspective TEXT NOT NULL CHECK (perspective IN ('subjective', 'objective')),
      PRIMARY KEY (user_id, version, chunk_id)
    )`);
    this.addSql(
      'CREATE INDEX memory_chunk_assignments_cluster_idx ON memory_chunk_assignments (user_id, version, cluster_id, similarity DESC, chunk_id)',
    );
    this.addSql(`CREATE TABLE memory_entities (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      entity_id TEXT NOT NULL,
      title TEXT NOT NULL,
      type TEXT NOT NULL,
      description TEXT NOT NULL,
      text_unit_ids TEXT[] NOT NULL,
      document_ids TEXT[] NOT NULL,
      mention_count INTEGER NOT NULL,
      source TEXT NOT NULL,
      PRIMARY KEY (user_id, version, entity_id)
    )`);
    this.addSql(
      'CREATE INDEX memory_entities_rank_idx ON memory_entities (user_id, version, mention_count DESC, entity_id)',
    );
    // a substring query scans one version's entities of one user (thousands); this serves prefixes
    this.addSql(
      'CREATE INDEX memory_entities_title_idx ON memory_entities (user_id, version, lower(title) text_pattern_ops)',
    );
    this.addSql(`CREATE TABLE memory_entity_mentions (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      entity_id TEXT NOT NULL,
      chunk_id TEXT NOT NULL,
      document_id TEXT NOT NULL,
      chunk_index INTEGER NOT NULL,
      PRIMARY KEY (user_id, version, entity_id, chunk_id)
    )`);
    this.addSql(`CREATE TABLE memory_relations (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      version TEXT NOT NULL,
      relation_id TEXT NOT NULL,
      source TEXT NOT NULL,
      target TEXT NOT NULL,
      description TEXT NOT NULL,
      weight DOUBLE PRECISION NOT NULL,
      text_unit_ids TEXT[] NOT NULL,
      PRIMARY KEY (user_id, version, relation_id)
    )`);
    this.addSql('CREATE INDEX memory_relations_source_idx ON memory_relations (user_id, version, source)');
    this.addSql('CREATE INDEX memory_relations_target_idx ON memory_relations (user_id, version, target)');
  }

  override down(): void {
    this.addSql(`DROP TABLE IF EXISTS ${TABLES.join(', ')}`);
    this.addSql('DROP INDEX IF EXISTS documents_user_processed_idx');
    this.addSql('ALTER TABLE documents DROP COLUMN IF EXISTS perspective');
  }
}

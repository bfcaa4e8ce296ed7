import { Migration } from '@mikro-orm/migrations';

// The lexical side of hybrid search (DESIGN §3 `chunk_terms`, §5): per chunk its owner, document,
// index, S3 pointer, citation offsets and the derived terms (a `tsvector`), never the chunk text.
// The GIN index leads with the user (btree_gin), so a query reads only its tenant's posting lists.
export class ChunkTerms extends Migration {
  override name = '0005-chunk-terms';

  override up(): void {
    this.addSql('CREATE EXTENSION IF NOT EXISTS btree_gin');
    this.addSql(`CREATE TABLE chunk_terms (
      user_id TEXT NOT NULL,
      document_id UUID NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
      chunk_index INTEGER NOT NULL,
      s3_path TEXT NOT NULL,
      char_start INTEGER NOT NULL,
      char_end INTEGER NOT NULL,
      page INTEGER,
      tsv TSVECTOR NOT NULL,
      PRIMARY KEY (user_id, document_id, chunk_index)
    )`);
    this.addSql('CREATE INDEX chunk_terms_tsv_idx ON chunk_terms USING GIN (user_id, tsv)');
    // the foreign key's cascade from documents looks rows up by document
    this.addSql('CREATE INDEX chunk_terms_document_idx ON chunk_terms (document_id)');
  }

  override down(): void {
    this.addSql('DROP TABLE IF EXISTS chunk_terms');
  }
}

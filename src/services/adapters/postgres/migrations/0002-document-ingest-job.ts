import { Migration } from '@mikro-orm/migrations';

// The BullMQ job running a document's ingest, so cancelIngest can reach it and a reprocess gets
// a fresh job id (a finished job keeps its id for a while and would swallow a re-enqueue).
export class DocumentIngestJob extends Migration {
  override name = '0002-document-ingest-job';

  override up(): void {
    this.addSql('ALTER TABLE documents ADD COLUMN IF NOT EXISTS ingest_job_id TEXT');
  }

  override down(): void {
    this.addSql('ALTER TABLE documents DROP COLUMN IF EXISTS ingest_job_id');
  }
}

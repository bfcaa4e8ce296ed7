import { Migration } from '@mikro-orm/migrations';

// Training runs (DESIGN §3 `training_jobs`, MEMORY-TRAINING.md C): the columns the orchestration
// needs on the seed's table, at most one active run per user (a partial unique index, so two
// parallel startTraining calls create one run), and `training_events`, where every signed
// callback is kept once by (run, attempt, seq) — a replay hits the primary key and changes nothing.
export class Training extends Migration {
  override name = '0006-training';

  override up(): void {
    this.addSql(`ALTER TABLE training_jobs
      ADD COLUMN created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0,
      ADD COLUMN last_callback_at TIMESTAMPTZ,
      ADD COLUMN submitted_at TIMESTAMPTZ,
      ADD COLUMN l1_version TEXT,
      ADD COLUMN promoted BOOLEAN NOT NULL DEFAULT false,
      ADD COLUMN promoted_at TIMESTAMPTZ,
      ADD COLUMN evaluation JSONB,
      ADD COLUMN cancel_requested_at TIMESTAMPTZ,
      ADD COLUMN step INTEGER,
      ADD COLUMN total_steps INTEGER,
      ADD COLUMN loss DOUBLE PRECISION,
      ADD COLUMN loss_curve JSONB NOT NULL DEFAULT '[]'::jsonb,
      ADD COLUMN dataset JSONB,
      ADD COLUMN artifacts JSONB,
      ADD COLUMN watchdog_checked_at TIMESTAMPTZ`);
    this.addSql(
      `CREATE UNIQUE INDEX training_jobs_one_active_idx ON training_jobs (user_id) WHERE status IN ('queued', 'processing')`,
    );
    this.addSql(
      'CREATE INDEX training_jobs_user_created_idx ON training_jobs (user_id, created_at DESC, id DESC)',
    );
    // the watchdog's scan: only processing runs
    this.addSql(
      `CREATE INDEX training_jobs_processing_idx ON training_jobs (last_callback_at) WHERE status = 'processing'`,
    );
    this.addSql(`CREATE TABLE training_events (
      run_id UUID NOT NULL REFERENCES training_jobs(id) ON DELETE CASCADE,
      attempt INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      user_id TEXT NOT NULL,
      event TEXT NOT NULL,
      payload JSONB NOT NULL,
      applied BOOLEAN NOT NULL,
      received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
      PRIMARY KEY (run_id, attempt, seq)
    )`);
  }

  override down(): void {
    this.addSql('DROP TABLE IF EXISTS training_events');
    this.addSql('DROP INDEX IF EXISTS training_jobs_one_active_idx');
    this.addSql('DROP INDEX IF EXISTS training_jobs_user_created_idx');
    this.addSql('DROP INDEX IF EXISTS training_jobs_processing_idx');
    this.addSql(`ALTER TABLE training_jobs
      DROP COLUMN created_at, DROP COLUMN last_seq, DROP COLUMN last_callback_at, DROP COLUMN submitted_at,
      DROP COLUMN l1_version, DROP COLUMN promoted, DROP COLUMN promoted_at, DROP COLUMN evaluation,
      DROP COLUMN cancel_requested_at, DROP COLUMN step, DROP COLUMN total_steps, DROP COLUMN loss,
      DROP COLUMN loss_curve, DROP COLUMN dataset, DROP COLUMN artifacts, DROP COLUMN watchdog_checked_at`);
  }
}

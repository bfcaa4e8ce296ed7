import type { MikroORM } from '@mikro-orm/postgresql';
import type {
  CallbackEvent,
  CallbackRecord,
  NewTrainingRun,
  RunGuard,
  TrainingRepository,
  TrainingRunPatch,
  TrainingRunRow,
  TrainingStatus,
} from '../../ports/training-repository.ts';

// training_jobs and training_events (migration 0006). A callback is applied in one transaction
// with its run locked: the event row's primary key (run, attempt, seq) makes a replay a no-op,
// and the UPDATE's guard (same attempt, larger seq, still processing) keeps a late or reordered
// event from moving the run backwards even if a caller's decision were wrong.

type Row = Record<string, unknown>;
type Db = ReturnType<MikroORM['em']['getConnection']>;
type Tx = Parameters<Db['execute']>[3];

const date = (v: unknown) => (v == null ? null : new Date(v as string));
const num = (v: unknown) => (v == null ? null : Number(v));
const json = <T>(v: unknown): T | null =>
  v == null ? null : typeof v === 'string' ? JSON.parse(v) : (v as T);

function toRun(r: Row): TrainingRunRow {
  return {
    id: String(r.id),
    userId: String(r.user_id),
    status: r.status as TrainingStatus,
    stage: (r.stage as string | null) ?? null,
    progress: Number(r.progress ?? 0),
    attempt: Number(r.attempt),
    step: num(r.step),
    totalSteps: num(r.total_steps),
    loss: num(r.loss),
    lossCurve: json(r.loss_curve) ?? [],
    error: (r.error as string | null) ?? null,
    baseModel: (r.base_model as string | null) ?? null,
    l1Version: (r.l1_version as string | null) ?? null,
    datasetPath: (r.dataset_path as string | null) ?? null,
    dataset: json(r.dataset),
    config: json(r.config),
    modalCallId: (r.modal_call_id as string | null) ?? null,
    lastSeq: Number(r.last_seq ?? 0),
    lastCallbackAt: date(r.last_callback_at),
    submittedAt: date(r.submitted_at),
    startedAt: date(r.started_at),
    completedAt: date(r.completed_at),
    createdAt: date(r.created_at)!,
    cancelRequestedAt: date(r.cancel_requested_at),
    artifacts: json(r.artifacts),
    metrics: json(r.metrics),
    evaluation: json(r.evaluation),
    loraPath: (r.lora_path as string | null) ?? null,
    ggufPath: (r.gguf_path as string | null) ?? null,
    promoted: Boolean(r.promoted),
    promotedAt: date(r.promoted_at),
  };
}

/** Patch field → column and how its value travels (every value is a bound parameter). */
const COLUMNS: Record<keyof TrainingRunPatch, { column: string; cast: string }> = {
  status: { column: 'status', cast: 'text' },
  stage: { column: 'stage', cast: 'text' },
  progress: { column: 'progress', cast: 'float8' },
  attempt: { column: 'attempt', cast: 'int' },
  step: { column: 'step', cast: 'int' },
  totalSteps: { column: 'total_steps', cast: 'int' },
  loss: { column: 'loss', cast: 'float8' },
  lossCurve: { column: 'loss_curve', cast: 'jsonb' },
  error: { column: 'error', cast: 'text' },
  baseModel: { column: 'base_model', cast: 'text' },
  l1Version: { column: 'l1_version', cast: 'text' },
  datasetPath: { column: 'dataset_path', cast: 'text' },
  dataset: { column: 'dataset', cast: 'jsonb' },
  config: { column: 'config', cast: 'jsonb' },
  modalCallId: { column: 'modal_call_id', cast: 'text' },
  lastSeq: { column: 'last_seq', cast: 'int' },
  lastCallbackAt: { column: 'last_callback_at', cast: 'timestamptz' },
  submittedAt: { column: 'submitted_at', cast: 'timestamptz' },
  startedAt: { column: 'started_at', cast: 'timestamptz' },
  completedAt: { column: 'completed_at', cast: 'timestamptz' },
  cancelRequestedAt: { column: 'cancel_requested_at', cast: 'timestamptz' },
  artifacts: { column: 'artifacts', cast: 'jsonb' },
  metrics: { column: 'metrics', cast: 'jsonb' },
  evaluation: { column: 'evaluation', cast: 'jsonb' },
  loraPath: { column: 'lora_path', cast: 'text' },
  ggufPath: { column: 'gguf_path', cast: 'text' },
};

function param(value: unknown, cast: string): unknown {
  if (value == null) return null;
  if (cast === 'jsonb') return JSON.stringify(value);
  if (value instanceof Date) return value.toISOString();
  return value;
}

function setClause(patch: TrainingRunPatch): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const spec = COLUMNS[key as keyof TrainingRunPatch];
    if (!spec) throw new Error(`training_jobs has no column for ${key}`);
    parts.push(`${spec.column} = ?::${spec.cast}`);
    params.push(param(value, spec.cast));
  }
  return { sql: parts.join(', '), params };
}

function guardClause(guard: RunGuard | undefined): { sql: string; params: unknown[] } {
  let sql = '';
  const params: unknown[] = [];
  if (guard?.status?.length) {
    sql += ` AND status IN (${guard.status.map(() => '?').join(', ')})`;
    params.push(...guard.status);
  }
  if (guard?.attempt !== undefined) {
    sql += ' AND attempt = ?';
    params.push(guard.attempt);
  }
  return { sql, params };
}

export class PgTrainingRepository implements TrainingRepository {
  private readonly orm: MikroORM;

  constructor(orm: MikroORM) {
    this.orm = orm;
  }

  private get db() {
    return this.orm.em.getConnection();
  }

  async create(row: NewTrainingRun): Promise<TrainingRunRow | null> {
    const rows = await this.db.execute<Row[]>(
      `INSERT INTO training_jobs (id, user_id, status, stage, base_model, config, l1_version, progress, attempt)
       VALUES (?, ?, 'queued', 'queued', ?, ?::jsonb, ?, 0, 1)
       ON CONFLICT (user_id) WHERE status IN ('queued', 'processing') DO NOTHING
       RETURNING *`,
      [row.id, row.userId, row.baseModel, JSON.stringify(row.config), row.l1Version],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async get(userId: string, id: string): Promise<TrainingRunRow | null> {
    const rows = await this.db.execute<Row[]>('SELECT * FROM training_jobs WHERE id = ? AND user_id = ?', [
      id,
      userId,
    ]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async findActive(userId: string): Promise<TrainingRunRow | null> {
    const rows = await this.db.execute<Row[]>(
      `SELECT * FROM training_jobs WHERE user_id = ? AND status IN ('queued', 'processing')`,
      [userId],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async list(
    userId: string,
    limit: number,
    after?: { createdAt: Date; id: string },
  ): Promise<TrainingRunRow[]> {
    const rows = after
      ? await this.db.execute<Row[]>(
          `SELECT * FROM training_jobs WHERE user_id = ? AND (created_at, id) < (?::timestamptz, ?::uuid)
           ORDER BY created_at DESC, id DESC LIMIT ?`,
          [userId, after.createdAt.toISOString(), after.id, limit],
        )
      : await this.db.execute<Row[]>(
          'SELECT * FROM training_jobs WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
          [userId, limit],
        );
    return rows.map(toRun);
  }

  async update(
    userId: string,
    id: string,
    patch: TrainingRunPatch,
    guard?: RunGuard,
  ): Promise<TrainingRunRow | null> {
    return this.patch(this.db, undefined, userId, id, patch, guard);
  }

  private async patch(
    db: Db,
    tx: Tx,
    userId: string,
    id: string,
    patch: TrainingRunPatch,
    guard?: RunGuard & { belowSeq?: number },
  ): Promise<TrainingRunRow | null> {
    const set = setClause(patch);
    if (!set.sql) return null;
    const where = guardClause(guard);
    let extra = '';
    const extraParams: unknown[] = [];
    if (guard?.belowSeq !== undefined) {
      extra = ' AND last_seq < ?';
      extraParams.push(guard.belowSeq);
    }
    const rows = await db.execute<Row[]>(
      `UPDATE training_jobs SET ${set.sql} WHERE id = ? AND user_id = ?${where.sql}${extra} RETURNING *`,
      [...set.params, id, userId, ...where.params, ...extraParams],
      'all',
      tx,
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async recordCallback(
    event: CallbackEvent,
    decide: (run: TrainingRunRow) => TrainingRunPatch | null,
  ): Promise<CallbackRecord> {
    return this.orm.em.fork().transactional(async (em) => {
      const tx = em.getTransactionContext();
      const db = em.getConnection();
      const locked = await db.execute<Row[]>(
        'SELECT * FROM training_jobs WHERE id = ? FOR UPDATE',
        [event.runId],
        'all',
        tx,
      );
      if (!locked[0]) return { outcome: 'unknown-run' } as const;
      const run = toRun(locked[0]);
      const inserted = await db.execute<Row[]>(
        `INSERT INTO training_events (run_id, attempt, seq, user_id, event, payload, applied)
         VALUES (?, ?, ?, ?, ?, ?::jsonb, false)
         ON CONFLICT (run_id, attempt, seq) DO NOTHING RETURNING seq`,
        [event.runId, event.attempt, event.seq, run.userId, event.event, JSON.stringify(event.payload)],
        'all',
        tx,
      );
      if (!inserted[0]) return { outcome: 'duplicate', run } as const;
      const patch = decide(run);
      if (!patch) return { outcome: 'stored', run, applied: false } as const;
      const updated = await this.patch(db, tx, run.userId, run.id, patch, {
        attempt: event.attempt,
        status: ['processing'],
        belowSeq: event.seq,
      });
      if (!updated) return { outcome: 'stored', run, applied: false } as const;
      await db.execute(
        'UPDATE training_events SET applied = true WHERE run_id = ? AND attempt = ? AND seq = ?',
        [event.runId, event.attempt, event.seq],
        'all',
        tx,
      );
      return { outcome: 'stored', run: updated, applied: true } as const;
    });
  }

  async events(userId: string, runId: string): Promise<(CallbackEvent & { applied: boolean })[]> {
    const rows = await this.db.execute<Row[]>(
      `SELECT run_id, attempt, seq, event, payload, applied FROM training_events
       WHERE run_id = ? AND user_id = ? ORDER BY received_at, attempt, seq`,
      [runId, userId],
    );
    return rows.map((r) => ({
      runId: String(r.run_id),
      attempt: Number(r.attempt),
      seq: Number(r.seq),
      event: String(r.event),
      payload: json<Record<string, unknown>>(r.payload) ?? {},
      applied: Boolean(r.applied),
    }));
  }

  async promoted(userId: string): Promise<TrainingRunRow | null> {
    const rows = await this.db.execute<Row[]>(
      'SELECT * FROM training_jobs WHERE user_id = ? AND promoted ORDER BY promoted_at DESC LIMIT 1',
      [userId],
    );
    return rows[0] ? toRun(rows[0]) : null;
  }

  async setPromoted(userId: string, id: string): Promise<TrainingRunRow | null> {
    return this.orm.em.fork().transactional(async (em) => {
      const tx = em.getTransactionContext();
      const db = em.getConnection();
      await db.execute(
        'UPDATE training_jobs SET promoted = false WHERE user_id = ? AND promoted AND id <> ?',
        [userId, id],
        'all',
        tx,
      );
      const rows = await db.execute<Row[]>(
        'UPDATE training_jobs SET promoted = true, promoted_at = now() WHERE id = ? AND user_id = ? RETURNING *',
        [id, userId],
        'all',
        tx,
      );
      return rows[0] ? toRun(rows[0]) : null;
    });
  }

  async claimSilent(silentSec: number, limit: number): Promise<TrainingRunRow[]> {
    const rows = await this.db.execute<Row[]>(
      `UPDATE training_jobs SET watchdog_checked_at = now() WHERE id IN (
         SELECT id FROM training_jobs
         WHERE status = 'processing' AND submitted_at IS NOT NULL
           AND GREATEST(COALESCE(last_callback_at, submitted_at), submitted_at,
                        COALESCE(watchdog_checked_at, submitted_at)) < now() - make_interval(secs => ?)
         ORDER BY submitted_at LIMIT ? FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [silentSec, limit],
    );
    return rows.map(toRun);
  }

  async anyProcessing(): Promise<boolean> {
    const rows = await this.db.execute<Row[]>(
      `SELECT 1 FROM training_jobs WHERE status IN ('queued', 'processing') LIMIT 1`,
    );
    return rows.length > 0;
  }
}

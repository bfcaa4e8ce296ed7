// Port for training runs in the relational store (DESIGN §3 `training_jobs`, `training_events`).
// Every read and write takes the tenant, except the callback's and the watchdog's, which start
// from a run id or from every tenant's silent runs and hand the run's user on.

export const TRAINING_STATUSES = ['queued', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type TrainingStatus = (typeof TRAINING_STATUSES)[number];
/** queued: L2 data being prepared; processing: on the trainer. Only these count as active. */
export const ACTIVE_STATUSES: readonly TrainingStatus[] = ['queued', 'processing'];

export interface LossPoint {
  step: number;
  loss: number;
}

export interface TrainingRunRow {
  id: string;
  userId: string;
  status: TrainingStatus;
  /** The trainer's stage (`loading_data`, `training`, `quantizing_q8_0` …) or ours (`preparing_data`). */
  stage: string | null;
  /** 0..1 */
  progress: number;
  attempt: number;
  step: number | null;
  totalSteps: number | null;
  loss: number | null;
  lossCurve: LossPoint[];
  error: string | null;
  baseModel: string | null;
  /** The L1 memory version the run's data was made from. */
  l1Version: string | null;
  /** Bucket key of dataset.json. */
  datasetPath: string | null;
  /** L2 counts and generator, from the data manifest. */
  dataset: Record<string, unknown> | null;
  config: Record<string, unknown> | null;
  modalCallId: string | null;
  lastSeq: number;
  lastCallbackAt: Date | null;
  submittedAt: Date | null;
  startedAt: Date | null;
  completedAt: Date | null;
  createdAt: Date;
  cancelRequestedAt: Date | null;
  /** Artifact name → bucket key, as the completed callback named them (`gguf_q8_0`, `adapter` …). */
  artifacts: Record<string, string> | null;
  /** The trainer's summary metrics (steps, losses, ggufBytes …). */
  metrics: Record<string, unknown> | null;
  evaluation: Record<string, unknown> | null;
  loraPath: string | null;
  ggufPath: string | null;
  promoted: boolean;
  promotedAt: Date | null;
}

/** The columns a service may set; the rest are the store's. */
export type TrainingRunPatch = Partial<
  Omit<TrainingRunRow, 'id' | 'userId' | 'createdAt' | 'promoted' | 'promotedAt'>
>;

export interface NewTrainingRun {
  id: string;
  userId: string;
  baseModel: string | null;
  config: Record<string, unknown>;
  l1Version: string;
}

/** Which row an update may touch: a run that moved on since it was read is left alone. */
export interface RunGuard {
  status?: readonly TrainingStatus[];
  attempt?: number;
}

export interface CallbackEvent {
  runId: string;
  attempt: number;
  seq: number;
  event: string;
  payload: Record<string, unknown>;
}

export type CallbackRecord =
  | { outcome: 'unknown-run' }
  /** (run, attempt, seq) was recorded before: nothing changed. */
  | { outcome: 'duplicate'; run: TrainingRunRow }
  /** Stored; `applied` when it moved the run (a late or stale one is stored only). */
  | { outcome: 'stored'; run: TrainingRunRow; applied: boolean };

export interface TrainingRepository {
  /** Null when the user already has an active run (the partial unique index decides, race-free). */
  create(row: NewTrainingRun): Promise<TrainingRunRow | null>;
  get(userId: string, id: string): Promise<TrainingRunRow | null>;
  findActive(userId: string): Promise<TrainingRunRow | null>;
  /** Newest first, after the keyset position when given. */
  list(userId: string, limit: number, after?: { createdAt: Date; id: string }): Promise<TrainingRunRow[]>;
  /** Null when the run is not the user's or the guard no longer holds. */
  update(
    userId: string,
    id: string,
    patch: TrainingRunPatch,
    guard?: RunGuard,
  ): Promise<TrainingRunRow | null>;
  /**
   * In one transaction with the run locked: records the event once, and when it is new applies
   * `decide`'s patch to the run (null: store only). The run's user comes from the row.
   */
  recordCallback(
    event: CallbackEvent,
    decide: (run: TrainingRunRow) => TrainingRunPatch | null,
  ): Promise<CallbackRecord>;
  /** Events recorded for a run (every attempt), in arrival order. */
  events(userId: string, runId: string): Promise<(CallbackEvent & { applied: boolean })[]>;
  /** The run whose artifacts are served as `twin:{userId}`; null before any promotion. */
  promoted(userId: string): Promise<TrainingRunRow | null>;
  /** Marks this run the promoted one (and no other of the user's). */
  setPromoted(userId: string, id: string): Promise<TrainingRunRow | null>;
  /**
   * Across tenants: processing runs silent (no callback, no check) for `silentSec`, marked
   * checked as they are claimed (`FOR UPDATE SKIP LOCKED`), so two watchdogs never share one.
   */
  claimSilent(silentSec: number, limit: number): Promise<TrainingRunRow[]>;
  /** Whether any run of any tenant is processing (the watchdog keeps going while one is). */
  anyProcessing(): Promise<boolean>;
}

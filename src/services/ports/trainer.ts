import { DomainError } from '../errors.ts';

// Port for the GPU side (DESIGN §8): the web endpoint of modal/ (deployed on Modal, or its local
// mode under uvicorn — the same HTTP protocol) that spawns a training run and answers at once with
// its call id, tells a call's state, cancels it, and reloads a user's served model.

export interface TrainRequest {
  runId: string;
  userId: string;
  /** 1-based; goes into every callback of this attempt, so a zombie attempt's events are told apart. */
  attempt: number;
  /** null: the trainer's TWIN_BASE_MODEL. */
  baseModel: string | null;
  /** Bucket keys (with `tenant/{userId}/`): the trainer reads and writes the bucket directly. */
  datasetPath: string;
  outputPrefix: string;
  hyperparameters: Record<string, unknown>;
  quantizations: string[];
  callbackUrl: string;
}

/** A call's state as the trainer knows it; `unknown` when it has no such call (restarted, expired). */
export type TrainCallState = 'running' | 'completed' | 'failed' | 'cancelled' | 'unknown';

export interface TrainCallStatus {
  state: TrainCallState;
  detail: string | null;
}

export interface Trainer {
  /** `modal` (deployed) or `local` (modal/'s local mode): for logs and the start-up line. */
  readonly kind: string;
  /** Resolves when the endpoint answers its health check, or throws TrainerUnavailableError. */
  ping(signal?: AbortSignal): Promise<void>;
  submit(request: TrainRequest, signal?: AbortSignal): Promise<{ callId: string }>;
  status(callId: string, signal?: AbortSignal): Promise<TrainCallStatus>;
  /** False when the call had already ended or is unknown. */
  cancel(callId: string, signal?: AbortSignal): Promise<boolean>;
  /** Tells inference to drop its loaded copy of the user's model (after a promotion). */
  reload(userId: string, signal?: AbortSignal): Promise<void>;
}

/**
 * No trainer is configured or reachable: the message says how to get one (Modal credentials, or
 * the command that starts the local trainer). A client can act on it; it never hangs.
 */
export class TrainerUnavailableError extends DomainError {
  readonly code = 'TRAINER_UNAVAILABLE';
}

/** The trainer refused the request (4xx other than auth outages): no retry will change that. */
export class TrainerRejectedError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

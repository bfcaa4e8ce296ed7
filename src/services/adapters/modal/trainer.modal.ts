import {
  type TrainCallState,
  type TrainCallStatus,
  type Trainer,
  TrainerRejectedError,
  TrainerUnavailableError,
  type TrainRequest,
} from '../../ports/trainer.ts';

// The Trainer over HTTP (DESIGN §8): modal/'s web endpoint, deployed on Modal or run locally by
// `python -m twin_gpu.local` — the same routes and bearer token. Every call has a deadline, so a
// trainer that does not answer is an error, never a hang.

export interface HttpTrainerOptions {
  baseUrl: string;
  /** Where `POST /models/{userId}/reload` goes: the inference service (MODAL_INFERENCE_URL without /v1). */
  inferenceUrl: string;
  token: string | undefined;
  /** `modal` or `local`, for logs. */
  kind: string;
  timeoutMs: number;
  /** What the TrainerUnavailable message tells a user to do when the endpoint cannot be reached. */
  howToStart: string;
}

const STATES: readonly TrainCallState[] = ['running', 'completed', 'failed', 'cancelled', 'unknown'];

export class HttpTrainer implements Trainer {
  readonly kind: string;
  private readonly options: HttpTrainerOptions;

  constructor(options: HttpTrainerOptions) {
    this.options = {
      ...options,
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      inferenceUrl: options.inferenceUrl.replace(/\/+$/, '').replace(/\/v1$/, ''),
    };
    this.kind = options.kind;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal, base = this.options.baseUrl) {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const why = timeout.aborted ? `no answer in ${this.options.timeoutMs} ms` : (error as Error).message;
      throw new TrainerUnavailableError(
        `the ${this.kind} trainer at ${base} cannot be reached (${why}). ${this.options.howToStart}`,
      );
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    if (res.ok) return parsed as Record<string, unknown> | null;
    const message =
      (parsed as { error?: { message?: string }; detail?: unknown } | null)?.error?.message ??
      JSON.stringify((parsed as { detail?: unknown } | null)?.detail ?? text.slice(0, 500));
    if (res.status === 401 || res.status === 403)
      throw new TrainerUnavailableError(
        `the ${this.kind} trainer refused the token (${res.status}): MODAL_TRAIN_TOKEN must equal the endpoint's TWIN_API_TOKEN`,
      );
    if (res.status >= 500 || res.status === 429)
      throw new TrainerUnavailableError(`the ${this.kind} trainer failed (${res.status}): ${message}`);
    throw new TrainerRejectedError(`the ${this.kind} trainer rejected ${method} ${path} (${res.status}): ${message}`, res.status);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.call('GET', '/health', undefined, signal);
  }

  async submit(request: TrainRequest, signal?: AbortSignal): Promise<{ callId: string }> {
    const out = await this.call('POST', '/train', request, signal);
    const callId = out?.callId;
    if (typeof callId !== 'string' || !callId) throw new Error('the trainer answered /train without a callId');
    return { callId };
  }

  async status(callId: string, signal?: AbortSignal): Promise<TrainCallStatus> {
    try {
      const out = await this.call('GET', `/train/${encodeURIComponent(callId)}`, undefined, signal);
      const state = String(out?.status ?? 'unknown') as TrainCallState;
      const detail = out?.error ?? out?.exitCode ?? null;
      return { state: STATES.includes(state) ? state : 'unknown', detail: detail == null ? null : String(detail) };
    } catch (error) {
      if (error instanceof TrainerRejectedError && error.status === 404) return { state: 'unknown', detail: null };
      throw error;
    }
  }

  async cancel(callId: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const out = await this.call('POST', `/train/${encodeURIComponent(callId)}/cancel`, undefined, signal);
      return out?.cancelled === true;
    } catch (error) {
      if (error instanceof TrainerRejectedError && error.status === 404) return false;
      throw error;
    }
  }

  async reload(userId: string, signal?: AbortSignal): Promise<void> {
    await this.call('POST', `/models/${encodeURIComponent(userId)}/reload`, undefined, signal, this.options.inferenceUrl);
  }
}

/** No trainer configured: every call answers how to get one. */
export class UnconfiguredTrainer implements Trainer {
  readonly kind = 'none';
  private readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
  private fail(): never {
    throw new TrainerUnavailableError(this.message);
  }
  ping = async () => this.fail();
  submit = async () => this.fail();
  status = async () => this.fail();
  cancel = async () => this.fail();
  // nothing is served by a trainer that does not exist: a reload has nothing to drop
  reload = async () => {};
}

import { DomainError } from '../errors.ts';

// Per-user quotas on what costs money (DESIGN §10), shared by every API replica.

/** What a quota counts: embedding queries, chat replies, uploaded files, training runs started. */
export type RateLimitedAction = 'search' | 'reply' | 'upload' | 'training';

export type RateDecision = { ok: true } | { ok: false; retryAfterMs: number };

export interface RateLimits {
  /** Takes `points` from the user's quota for `action`, or says how long until it has them. */
  consume(userId: string, action: RateLimitedAction, points?: number): Promise<RateDecision>;
  /** Gives back points taken for work that was then refused (a training start that did not start). */
  refund(userId: string, action: RateLimitedAction, points?: number): Promise<void>;
  close(): Promise<void>;
}

export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  readonly action: RateLimitedAction;
  readonly retryAfterSeconds: number;
  constructor(action: RateLimitedAction, retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(`too many ${action} requests: try again in ${seconds} s`);
    this.action = action;
    this.retryAfterSeconds = seconds;
  }
}

// Port for short mutual-exclusion sections shared by every worker and API replica (a chat
// session's transcript is read, changed and written back under one).

export class LockTimeoutError extends Error {
  constructor(key: string) {
    super(`timed out waiting for lock ${key}`);
  }
}

export interface LockOptions {
  /** How long the lock survives a holder that died (ms). */
  ttlMs?: number;
  /** How long to wait for it before giving up (ms). */
  waitMs?: number;
  /**
   * Keep extending the lock while `fn` runs (every third of `ttlMs`), for sections longer than
   * any fixed TTL: a holder that dies (SIGKILL) still frees it within `ttlMs`.
   */
  renew?: boolean;
}

export interface Locks {
  withLock<T>(key: string, fn: () => Promise<T>, options?: LockOptions): Promise<T>;
  close(): Promise<void>;
}

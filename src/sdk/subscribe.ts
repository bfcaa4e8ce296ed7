// A subscription that outlives its connections: each attempt runs over one transport; when the
// connection drops it tries again with backoff, asking for `afterSeq` = the last seq delivered, and
// drops any replayed event it already delivered — no event lost or repeated (DESIGN §7).
import type { ExecutionResult } from 'graphql';
import { type Attempt, type Operation, TwinRequestError } from './transport.ts';

export interface SubscribeOptions<R> {
  /** The seq of an event (its `afterSeq` position); without it a resume starts over. */
  seqOf?: (result: R) => number | null | undefined;
  /** Whether an event ends the stream: the iterator ends after it, whatever the server does. */
  isLast?: (result: R) => boolean;
  signal?: AbortSignal;
  /** Told when a connection drops and when events flow again. */
  onConnection?: (state: 'connected' | 'reconnecting', error?: TwinRequestError) => void;
}

export interface ReconnectOptions {
  /** Consecutive failed attempts before the iterator throws (default 10). */
  attempts?: number;
  /** First delay; doubled per failure up to maxDelayMs (defaults 200 and 5000). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Picks the transport of each attempt, and learns from a failure (auto mode falls back to SSE). */
export interface AttemptSource {
  attempt(): Attempt;
  /** Returns true when a different transport should be tried at once. */
  failed(error: TwinRequestError): boolean;
}

/** An AsyncIterable that can also be closed from outside the `for await`. */
export interface TwinSubscription<R> extends AsyncIterableIterator<R> {
  close(): void;
}

export function resumableSubscription<R>(
  source: AttemptSource,
  op: Operation,
  opts: SubscribeOptions<R>,
  reconnect: ReconnectOptions = {},
): TwinSubscription<R> {
  const maxAttempts = reconnect.attempts ?? 10;
  const baseDelay = reconnect.baseDelayMs ?? 200;
  const maxDelay = reconnect.maxDelayMs ?? 5000;
  const given = op.variables?.afterSeq;
  let lastSeq = typeof given === 'number' ? given : undefined;
  const queue: R[] = [];
  let failure: unknown;
  let ended = false;
  let failures = 0;
  let stop: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const finish = (error?: unknown) => {
    if (ended) return;
    ended = true;
    failure = error;
    clearTimeout(timer);
    stop?.();
    stop = undefined;
    opts.signal?.removeEventListener('abort', onAbort);
    notify();
  };
  const onAbort = () => finish(opts.signal?.reason);

  const start = () => {
    if (ended) return;
    const variables = lastSeq === undefined ? op.variables : { ...op.variables, afterSeq: lastSeq };
    let flowing = false;
    let over = false;
    const cancel = source.attempt()(
      { ...op, variables },
      {
        next: (result: ExecutionResult<unknown>) => {
          if (over || ended) return;
          if (result.errors?.length) return finish(TwinRequestError.fromErrors(result.errors));
          if (result.data == null) return;
          if (!flowing) {
            flowing = true;
            if (failures > 0) opts.onConnection?.('connected');
            failures = 0;
          }
          const data = result.data as R;
          const seq = opts.seqOf?.(data);
          // a replay after a reconnect starts after lastSeq; anything at or before it was delivered
          if (seq != null && lastSeq !== undefined && seq <= lastSeq) return;
          if (seq != null) lastSeq = seq;
          queue.push(data);
          notify();
          if (opts.isLast?.(data)) finish();
        },
        complete: () => {
          over = true;
          finish();
        },
        error: (error: unknown) => {
          over = true;
          if (ended) return;
          const err =
            error instanceof TwinRequestError
              ? error
              : new TwinRequestError(String((error as Error)?.message ?? error), {
                  code: 'NETWORK',
                  retryable: true,
                  cause: error,
                });
          if (!err.retryable) return finish(err);
          stop = undefined;
          if (source.failed(err)) return start();
          if (++failures > maxAttempts) return finish(err);
          opts.onConnection?.('reconnecting', err);
          const delay = Math.min(maxDelay, baseDelay * 2 ** (failures - 1));
          timer = setTimeout(start, delay * (0.75 + Math.random() * 0.5));
        },
      },
    );
    if (over) cancel();
    else stop = cancel;
  };

  if (opts.signal?.aborted) finish(opts.signal.reason);
  else {
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    start();
  }

  const iterator: TwinSubscription<R> = {
    async next(): Promise<IteratorResult<R>> {
      for (;;) {
        if (queue.length > 0) return { value: queue.shift() as R, done: false };
        if (ended) {
          if (failure !== undefined) {
            const error = failure;
            failure = undefined;
            throw error;
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return(): Promise<IteratorResult<R>> {
      finish();
      queue.length = 0;
      failure = undefined;
      return { value: undefined, done: true };
    },
    close() {
      void iterator.return?.();
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

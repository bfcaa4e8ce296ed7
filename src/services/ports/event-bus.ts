import { DomainError } from '../errors.ts';
import type { EventKind, EventMap, Sequenced } from './events.ts';

export interface SubscribeOptions {
  /**
   * Replay retained events with a larger seq first; omitted: only events published from now on.
   * When some of them are no longer retained the subscription fails with a ReplayGapError.
   */
  afterSeq?: number;
  /** Aborting ends the subscription at once, as `return()` does. */
  signal?: AbortSignal;
}

/**
 * A resume asked for events that are no longer retained (expired or trimmed): it is told so
 * rather than silently given a gap (DESIGN §7).
 */
export class ReplayGapError extends DomainError {
  readonly code = 'REPLAY_GAP';
  readonly afterSeq: number;
  /** The first seq that can still be delivered: the next to be published when none is retained. */
  readonly oldestSeq: number;
  constructor(afterSeq: number, oldestSeq: number) {
    super(`events after seq ${afterSeq} are no longer retained; the oldest still retained is ${oldestSeq}`);
    this.afterSeq = afterSeq;
    this.oldestSeq = oldestSeq;
  }
}

// Port for real-time events shared by API and worker processes. A topic's seq (1, 2, 3, …) never
// restarts, however long the topic is idle.
export interface EventBus {
  publish<K extends EventKind>(kind: K, scope: string, event: EventMap[K]): Promise<number>;
  /** Its `return()` (or the signal) releases the subscription's listener at once. */
  subscribe<K extends EventKind>(
    kind: K,
    scope: string,
    options?: SubscribeOptions,
  ): AsyncIterableIterator<Sequenced<EventMap[K]>>;
  /** Events still retained for replay, in order. */
  history<K extends EventKind>(kind: K, scope: string, afterSeq?: number): Promise<Sequenced<EventMap[K]>[]>;
  /** The seq of the topic's latest event, retained or not; 0 before its first. */
  lastSeq(kind: EventKind, scope: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * An iterator over `open`'s whose `return()` takes effect at once. An async generator that is
 * awaiting (the next event, say) only runs a `return()` once that await settles, which for an idle
 * topic is never: this one first aborts the signal `open` was given, which ends that await.
 */
export function abortOnReturn<T>(open: (signal: AbortSignal) => AsyncIterator<T>): AsyncIterableIterator<T> {
  const controller = new AbortController();
  const inner = open(controller.signal);
  return {
    next: () => inner.next(),
    async return() {
      controller.abort();
      await inner.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      controller.abort();
      if (inner.throw) return inner.throw(error);
      await inner.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

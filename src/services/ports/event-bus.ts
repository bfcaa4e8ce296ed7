import type { EventKind, EventMap, Sequenced } from './events.ts';

export interface SubscribeOptions {
  /** Replay retained events with a larger seq first; omitted: only events published from now on. */
  afterSeq?: number;
  signal?: AbortSignal;
}

// Port for real-time events shared by API and worker processes.
export interface EventBus {
  publish<K extends EventKind>(kind: K, scope: string, event: EventMap[K]): Promise<number>;
  subscribe<K extends EventKind>(
    kind: K,
    scope: string,
    options?: SubscribeOptions,
  ): AsyncIterableIterator<Sequenced<EventMap[K]>>;
  /** Events still retained for replay, in order. */
  history<K extends EventKind>(kind: K, scope: string, afterSeq?: number): Promise<Sequenced<EventMap[K]>[]>;
  close(): Promise<void>;
}

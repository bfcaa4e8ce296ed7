/**
 * Coalesces small writes from concurrent callers into larger batches per key (for the vector
 * index: per tenant). A caller's items always travel together in one batch (lists longer than
 * `maxBatch` are split into several), the caller awaits only the batches holding its items and
 * gets back only its own per-item errors.
 *
 * A batch goes out when `maxBatch` items are pending, or `lingerMs` after its first item arrived;
 * at most `maxInFlight` batches per key are in flight, and while they are, new items wait and
 * grow the next batch (so batches get larger exactly when the backend is the bottleneck).
 */
export interface WriteBatcherOptions {
  maxBatch: number;
  lingerMs: number;
  maxInFlight: number;
}

/** Writes one batch; returns per-item errors by index in `items` (absent: written). */
export type FlushFn<T> = (key: string, items: T[]) => Promise<Map<number, Error>>;

interface Entry<T> {
  items: T[];
  resolve: (errors: Map<number, Error>) => void;
  reject: (error: unknown) => void;
}

interface Lane<T> {
  pending: Entry<T>[];
  count: number;
  inFlight: number;
  timer: NodeJS.Timeout | undefined;
  due: boolean;
}

export class WriteBatcher<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly flushFn: FlushFn<T>;
  private readonly options: WriteBatcherOptions;
  /** Items and batches written, for benchmarks and logs. */
  readonly stats = { batches: 0, items: 0 };

  constructor(flush: FlushFn<T>, options: WriteBatcherOptions) {
    this.flushFn = flush;
    this.options = {
      maxBatch: Math.max(1, options.maxBatch),
      lingerMs: Math.max(0, options.lingerMs),
      maxInFlight: Math.max(1, options.maxInFlight),
    };
  }

  /** Resolves with this caller's per-item errors (by index in `items`) once all are written. */
  async write(key: string, items: readonly T[]): Promise<Map<number, Error>> {
    const { maxBatch } = this.options;
    const parts: Promise<Map<number, Error>>[] = [];
    for (let from = 0; from < items.length; from += maxBatch) {
      parts.push(this.enqueue(key, items.slice(from, from + maxBatch)));
    }
    const results = await Promise.all(parts);
    const errors = new Map<number, Error>();
    results.forEach((part, p) => {
      for (const [i, e] of part) errors.set(p * maxBatch + i, e);
    });
    return errors;
  }

  private enqueue(key: string, items: T[]): Promise<Map<number, Error>> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { pending: [], count: 0, inFlight: 0, timer: undefined, due: false };
      this.lanes.set(key, lane);
    }
    const promise = new Promise<Map<number, Error>>((resolve, reject) => {
      lane.pending.push({ items, resolve, reject });
    });
    lane.count += items.length;
    if (lane.count >= this.options.maxBatch) lane.due = true;
    else if (!lane.timer && !lane.due) {
      const l = lane;
      lane.timer = setTimeout(() => {
        l.timer = undefined;
        l.due = true;
        this.pump(key, l);
      }, this.options.lingerMs);
    }
    this.pump(key, lane);
    return promise;
  }

  private pump(key: string, lane: Lane<T>) {
    while (lane.due && lane.pending.length > 0 && lane.inFlight < this.options.maxInFlight) {
      // whole entries up to maxBatch items (an entry is never larger than maxBatch)
      const batch: Entry<T>[] = [];
      let size = 0;
      while (lane.pending.length > 0 && size + lane.pending[0]!.items.length <= this.options.maxBatch) {
        const entry = lane.pending.shift()!;
        size += entry.items.length;
        batch.push(entry);
      }
      lane.count -= size;
      // what is left waits for the next trigger, unless it is already a full batch
      lane.due = lane.count >= this.options.maxBatch;
      if (lane.timer && lane.count === 0) {
        clearTimeout(lane.timer);
        lane.timer = undefined;
      }
      lane.inFlight++;
      void this.send(key, lane, batch, size);
    }
    if (lane.pending.length > 0 && !lane.timer && !lane.due) {
      lane.timer = setTimeout(() => {
        lane.timer = undefined;
        lane.due = true;
        this.pump(key, lane);
      }, this.options.lingerMs);
    }
    if (lane.pending.length === 0 && lane.inFlight === 0 && !lane.timer) this.lanes.delete(key);
  }

  private async send(key: string, lane: Lane<T>, batch: Entry<T>[], size: number) {
    const items: T[] = [];
    for (const entry of batch) for (const item of entry.items) items.push(item);
    try {
      const errors = await this.flushFn(key, items);
      this.stats.batches++;
      this.stats.items += size;
      let offset = 0;
      for (const entry of batch) {
        const own = new Map<number, Error>();
        for (let i = 0; i < entry.items.length; i++) {
          const e = errors.get(offset + i);
          if (e) own.set(i, e);
        }
        offset += entry.items.length;
        entry.resolve(own);
      }
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      lane.inFlight--;
      // items that arrived while this batch was in flight have waited long enough
      if (lane.pending.length > 0) lane.due = true;
      this.pump(key, lane);
    }
  }
}

// Port for operational metrics (DESIGN §10 observability). Callers record what happened; the
// adapter (Prometheus) owns names, buckets and label bounds, and renders the scrape.

export type JobOutcome = 'completed' | 'failed' | 'retried';

/** Jobs per state of one queue, as counted when scraped. */
export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface Metrics {
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** One executed query or mutation, by its operation name (never the raw query). */
  graphqlOperation(operationName: string, operationType: string, ok: boolean, seconds: number): void;
  /** One attempt ended; `seconds`, how long its handler ran, when known. */
  jobOutcome(queue: string, jobName: string, outcome: JobOutcome, seconds?: number): void;
  /** Time from an event's arrival from Redis in this process to its delivery to a subscriber. */
  eventDelivered(lagSeconds: number): void;
  embeddingCall(embedder: string, texts: number, ok: boolean): void;
  llmCall(
    backend: string,
    ok: boolean,
    usage: { promptTokens: number; completionTokens: number } | null,
  ): void;
  /** Read on every scrape. */
  observeQueueDepth(read: () => Promise<Record<string, QueueDepth>>): void;
  observeActiveSubscriptions(read: () => number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

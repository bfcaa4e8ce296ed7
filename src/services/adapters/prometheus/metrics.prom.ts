import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { JobOutcome, Metrics, QueueDepth } from '../../ports/metrics.ts';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Operation names are chosen by clients: past this many distinct ones, the rest count as `other`. */
const MAX_OPERATION_NAMES = 200;
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/**
 * prom-client behind the Metrics port. Each instance has its own registry (tests run several apps
 * in one process; the global one would refuse the second registration of a name).
 */
export class PrometheusMetrics implements Metrics {
  private readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private readQueueDepth: () => Promise<Record<string, QueueDepth>> = async () => ({});
  private readSubscriptions: () => number = () => 0;

  private readonly http = new Histogram({
    name: 'twin_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly operations = new Histogram({
    name: 'twin_graphql_operation_duration_seconds',
    help: 'Executed GraphQL queries and mutations by operation name and outcome',
    labelNames: ['operation', 'type', 'outcome'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly jobs = new Counter({
    name: 'twin_job_outcomes_total',
    help: 'Job attempts ended by this process: completed, failed (for good) or retried',
    labelNames: ['queue', 'job', 'outcome'],
    registers: [this.registry],
  });
  private readonly jobDurations = new Histogram({
    name: 'twin_job_duration_seconds',
    help: 'How long job attempts ran in this process, by queue, job and outcome',
    labelNames: ['queue', 'job', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });
  private readonly lag = new Histogram({
    name: 'twin_event_delivery_lag_seconds',
    help: 'From an event arriving from Redis in this process to its delivery to a subscriber',
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });
  private readonly embeddingCalls = new Counter({
    name: 'twin_embedding_calls_total',
    help: 'Embedding calls by embedder and outcome',
    labelNames: ['embedder', 'outcome'],
    registers: [this.registry],
  });
  private readonly embeddingTexts = new Counter({
    name: 'twin_embedding_texts_total',
    help: 'Texts sent to the embedder',
    labelNames: ['embedder'],
    registers: [this.registry],
  });
  private readonly llmCalls = new Counter({
    name: 'twin_llm_calls_total',
    help: 'Chat model calls by backend and outcome',
    labelNames: ['backend', 'outcome'],
    registers: [this.registry],
  });
  private readonly llmTokens = new Counter({
    name: 'twin_llm_tokens_total',
    help: 'Chat model tokens by backend and kind (prompt, completion), as the model reported them',
    labelNames: ['backend', 'kind'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'twin_' });
    const self = this;
    new Gauge({
      name: 'twin_queue_jobs',
      help: 'Jobs per queue and state, read from the queue when scraped',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [queue, depth] of Object.entries(await self.readQueueDepth()))
          for (const [state, n] of Object.entries(depth)) this.set({ queue, state }, n);
      },
    });
    new Gauge({
      name: 'twin_active_subscriptions',
      help: 'GraphQL subscriptions open in this process (WebSocket and SSE)',
      registers: [this.registry],
      collect() {
        this.set(self.readSubscriptions());
      },
    });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.http.observe({ method, route, status: String(status) }, seconds);
  }

  graphqlOperation(operationName: string, operationType: string, ok: boolean, seconds: number): void {
    this.operations.observe(
      { operation: this.boundedOperation(operationName), type: operationType, outcome: ok ? 'ok' : 'error' },
      seconds,
    );
  }

  private boundedOperation(name: string): string {
    if (!OPERATION_NAME.test(name)) return 'anonymous';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }

  jobOutcome(queue: string, jobName: string, outcome: JobOutcome, seconds?: number): void {
    this.jobs.inc({ queue, job: jobName, outcome });
    if (seconds !== undefined) this.jobDurations.observe({ queue, job: jobName, outcome }, seconds);
  }

  eventDelivered(lagSeconds: number): void {
    this.lag.observe(lagSeconds);
  }

  embeddingCall(embedder: string, texts: number, ok: boolean): void {
    this.embeddingCalls.inc({ embedder, outcome: ok ? 'ok' : 'error' });
    if (ok) this.embeddingTexts.inc({ embedder }, texts);
  }

  llmCall(
    backend: string,
    ok: boolean,
    usage: { promptTokens: number; completionTokens: number } | null,
  ): void {
    this.llmCalls.inc({ backend, outcome: ok ? 'ok' : 'error' });
    if (usage) {
      this.llmTokens.inc({ backend, kind: 'prompt' }, usage.promptTokens);
      this.llmTokens.inc({ backend, kind: 'completion' }, usage.completionTokens);
    }
  }

  observeQueueDepth(read: () => Promise<Record<string, QueueDepth>>): void {
    this.readQueueDepth = read;
  }

  observeActiveSubscriptions(read: () => number): void {
    this.readSubscriptions = read;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

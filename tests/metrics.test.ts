import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { IngestProgressDocument, MeDocument, TwinReplyDocument } from '../src/sdk/generated/graphql.ts';
import { createApp } from '../src/server.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { events, isTerminal, seedChunks, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import { TEST_AUTH_SECRET, type TestApp, testConfig } from './helpers/harness.ts';
import { settled, uploadDocument } from './helpers/ingest.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';

const TOKENS = [' one', ' two', ' three', ' four'];

/** The sum of the samples of `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

const origin = (app: TestApp) => app.url.replace(/\/graphql$/, '');

async function scrape(app: TestApp): Promise<string> {
  const res = await fetch(`${origin(app)}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('/metrics after real traffic', () => {
  let app: TestApp;
  let model: OpenAIStandin;

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp({ tokens: TOKENS, ttftMs: 5, interTokenMs: 1 }));
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
  });

  it('counts requests, operations, jobs, model calls and event delivery; the subscriptions gauge returns to 0', async () => {
    const client = app.client();
    for (let i = 0; i < 3; i++) expect((await client.request(MeDocument, {})).errors).toBeUndefined();

    // stays open until closed, unlike a reply's stream, which ends with the reply
    const progress = client.subscribeWs(IngestProgressDocument, { afterSeq: 0 });
    const doc = await uploadDocument(client, 'metrics.txt', 'The harbour master counted every boat at dawn.');
    expect((await settled(client, doc.id)).status).toBe('PROCESSED');
    await progress.until((e) => e.data?.ingestProgress.stage === 'DONE', 10_000);

    await seedChunks(app.services, client.userId, ['I learned to sail on the Douro river in Porto.']);
    const sessionId = await startChat(client, 'Metrics');
    const sent = await sendMessage(client, sessionId, 'Where did I learn to sail?');
    const reply = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId, afterSeq: 0 });
    const list = events(await reply.until(isTerminal, 15_000));
    // tokens arrive as coalesced deltas (REPLY_DELTA_WINDOW_MS): the reply is the tokens, in order
    expect(
      tokensOf(list)
        .map((t) => t.text)
        .join(''),
      JSON.stringify(list),
    ).toBe(TOKENS.join(''));

    const during = await scrape(app);
    expect(sample(during, 'twin_active_subscriptions')).toBeGreaterThanOrEqual(1);
    progress.close();
    reply.close();
    client.dispose();

    const text = await until(
      () => scrape(app),
      (t) =>
        sample(t, 'twin_active_subscriptions') === 0 &&
        (sample(t, 'twin_job_outcomes_total', { queue: 'chat', job: 'chat-reply', outcome: 'completed' }) ??
          0) >= 1,
    );
    expect(sample(text, 'twin_active_subscriptions')).toBe(0);
    expect(
      sample(text, 'twin_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/graphql',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(6);
    // per operation name, not per query text
    expect(
      sample(text, 'twin_graphql_operation_duration_seconds_count', {
        operation: 'Me',
        type: 'query',
        outcome: 'ok',
      }),
    ).toBe(3);
    expect(
      sample(text, 'twin_graphql_operation_duration_seconds_count', {
        operation: 'SendMessage',
        type: 'mutation',
      }),
    ).toBe(1);
    expect(text).not.toMatch(/operation="query /);
    expect(
      sample(text, 'twin_job_outcomes_total', {
        queue: 'ingest',
        job: 'ingest-document',
        outcome: 'completed',
      }),
    ).toBe(1);
    expect(
      sample(text, 'twin_job_outcomes_total', { queue: 'chat', job: 'chat-reply', outcome: 'completed' }),
    ).toBe(1);
    for (const queue of ['ingest', 'chat', 'memory', 'train'])
      for (const state of ['waiting', 'active', 'delayed', 'failed'])
        expect(sample(text, 'twin_queue_jobs', { queue, state }), `${queue} ${state}`).toBeGreaterThanOrEqual(
          0,
        );
    // the chat-memory job the session's idle timer holds back
    expect(sample(text, 'twin_queue_jobs', { queue: 'chat', state: 'delayed' })).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'twin_embedding_calls_total', { embedder: 'local', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'twin_embedding_texts_total', { embedder: 'local' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'twin_llm_calls_total', { backend: 'openai', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'twin_llm_tokens_total', { backend: 'openai', kind: 'completion' })).toBe(
      TOKENS.length,
    );
    expect(sample(text, 'twin_llm_tokens_total', { backend: 'openai', kind: 'prompt' })).toBeGreaterThan(0);
    expect(sample(text, 'twin_event_delivery_lag_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'twin_event_delivery_lag_seconds_sum')).toBeLessThan(
      sample(text, 'twin_event_delivery_lag_seconds_count')!,
    );
    // no series is labelled by user
    expect(text).not.toContain(client.userId);
  });

  it('echoes a well-formed x-request-id and replaces a malformed one', async () => {
    const given = await fetch(`${origin(app)}/healthz`, { headers: { 'x-request-id': 'trace-0123456789' } });
    expect(given.headers.get('x-request-id')).toBe('trace-0123456789');
    const bad = await fetch(`${origin(app)}/healthz`, { headers: { 'x-request-id': 'no spaces\tallowed' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await fetch(`${origin(app)}/healthz`);
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.headers.get('x-request-id')).not.toBe(bad.headers.get('x-request-id'));
  });
});

describe('/metrics with METRICS_TOKEN, and request ids in masked errors', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789';
  const lines: Record<string, unknown>[] = [];
  let close: () => Promise<void>;
  let base: string;
  let services: Awaited<ReturnType<typeof createServices>>;

  beforeAll(async () => {
    const config = testConfig({ METRICS_TOKEN });
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    services = await createServices(config, pino({ level: 'error' }, sink), jobs);
    const app = createApp(services);
    base = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}`;
    close = async () => {
      await app.close();
      await services.close();
    };
  });
  afterAll(async () => {
    await close?.();
  });

  it('requires the bearer token', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${base}/metrics`, {
      headers: { authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('twin_http_request_duration_seconds');
  });

  it("puts the request's id into a masked error's extensions and its log line", async () => {
    const ensure = services.users.ensure;
    services.users.ensure = async () => {
      throw new Error('database password rejected');
    };
    try {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${issueToken(TEST_AUTH_SECRET, 'u-request-id')}`,
          'x-request-id': 'report-4242-abcd',
        },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      expect(res.headers.get('x-request-id')).toBe('report-4242-abcd');
      const body = (await res.json()) as {
        errors: { message: string; extensions?: Record<string, unknown> }[];
      };
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0]!.message).toBe('Unexpected error.');
      expect(body.errors[0]!.extensions?.requestId).toBe('report-4242-abcd');
      expect(JSON.stringify(body)).not.toContain('password');
      const logged = lines.find((l) => l.msg === 'unexpected error in a GraphQL operation');
      expect(logged?.requestId).toBe('report-4242-abcd');
    } finally {
      services.users.ensure = ensure;
    }
  });
});

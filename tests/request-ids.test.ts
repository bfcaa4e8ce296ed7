import { Writable } from 'node:stream';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createServices, type Services } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { IngestProgressDocument } from '../src/sdk/generated/graphql.ts';
import { type App, createApp } from '../src/server.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { TEST_AUTH_SECRET, testConfig } from './helpers/harness.ts';

// Each graphql-ws operation has a request id, as each HTTP request has (DESIGN §10): a masked
// error names it, and the log line written for that error carries it, so a user's report finds it.

type Result = { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };

describe('request ids over WebSocket and HTTP', () => {
  const lines: Record<string, unknown>[] = [];
  let services: Services;
  let app: App;
  let port: number;
  const token = issueToken(TEST_AUTH_SECRET, 'u-request-ids');

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    services = await createServices(testConfig(), pino({ level: 'error' }, sink), jobs);
    app = createApp(services);
    port = await app.listen(0, '127.0.0.1');
    // an event store that fails mid-stream: the subscription's first event cannot be read
    services.events.subscribe = (() =>
      (async function* () {
        yield {
          documentId: 'd1',
          stage: 'EMBEDDING',
          get done(): number {
            throw new Error('redis replica password rejected');
          },
          total: 3,
          attempt: 1,
          error: null,
          seq: 1,
        };
      })()) as never;
  });
  afterAll(async () => {
    await app?.close();
    await services?.close();
  });

  /** The first result of an ingestProgress subscription over graphql-ws, the upgrade carrying `headers`. */
  async function subscribeOnce(headers: Record<string, string>): Promise<Result> {
    class WithHeaders extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers });
      }
    }
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WithHeaders,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    try {
      return await new Promise<Result>((resolve, reject) => {
        client.subscribe(
          { query: print(IngestProgressDocument), variables: {} },
          {
            next: (value) => resolve(value as Result),
            error: reject,
            complete: () => reject(new Error('ended')),
          },
        );
      });
    } finally {
      await client.dispose();
    }
  }

  const loggedFor = (requestId: unknown) =>
    lines.find((l) => l.msg === 'unexpected error in a GraphQL operation' && l.requestId === requestId);

  it("a subscription failing unexpectedly answers a masked error with the upgrade's x-request-id and the operation's id", async () => {
    const result = await subscribeOnce({ 'x-request-id': 'ws-report-0042' });
    expect(result.errors).toHaveLength(1);
    const [error] = result.errors!;
    expect(error!.message).toBe('Unexpected error.');
    expect(JSON.stringify(result)).not.toContain('password');
    // one socket carries many operations: the id names the operation too
    expect(error!.extensions?.requestId).toMatch(/^ws-report-0042:.+$/);
    const logged = loggedFor(error!.extensions?.requestId);
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged)).toContain('redis replica password rejected');
  });

  it('without an x-request-id on the upgrade, each operation gets a new id of its own', async () => {
    const first = await subscribeOnce({});
    const second = await subscribeOnce({});
    const a = first.errors?.[0]?.extensions?.requestId;
    const b = second.errors?.[0]?.extensions?.requestId;
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
    expect(loggedFor(a)).toBeDefined();
  });

  it("an HTTP operation's masked error carries the x-request-id header's id", async () => {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-request-id': 'http-report-0043',
      },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(res.headers.get('x-request-id')).toBe('http-report-0043');
    const ensure = services.users.ensure;
    services.users.ensure = async () => {
      throw new Error('database password rejected');
    };
    try {
      const failed = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'x-request-id': 'http-report-0044',
        },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      const body = (await failed.json()) as Result;
      expect(body.errors?.[0]?.message).toBe('Unexpected error.');
      expect(body.errors?.[0]?.extensions?.requestId).toBe('http-report-0044');
      expect(loggedFor('http-report-0044')).toBeDefined();
    } finally {
      services.users.ensure = ensure;
    }
  });
});

import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { type GraphQLError, getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { parseConfig } from '../src/config.ts';
import { operationCostRule } from '../src/http/operation-cost.ts';
import { FIELD_WEIGHTS } from '../src/http/operation-limits.plugin.ts';
import { schema } from '../src/schema/index.ts';
import * as sdk from '../src/sdk/generated/graphql.ts';
import {
  IngestProgressDocument,
  SearchDocument,
  SendMessageDocument,
  StartChatDocument,
  StartTrainingDocument,
  UploadDocumentDocument,
} from '../src/sdk/generated/graphql.ts';
import { member } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';

const aliasedSearches = (n: number) =>
  `query { ${Array.from({ length: n }, (_, i) => `s${i}: search(query: "q${i}") { __typename }`).join(' ')} }`;
const FAN_OUT = `query { documents(first: 100) { ... on QueryDocumentsConnection { edges { node {
  chunks(first: 200) { ... on DocumentChunksConnection { edges { node { text } } } } } } } } }`;
const TOO_DEEP = `query { documents { ... on QueryDocumentsConnection { edges { node { chunks { ... on DocumentChunksConnection {
  edges { node { document { chunks { ... on DocumentChunksConnection { edges { node { document { id } } } } } } } } } } } } } } }`;

async function post(app: TestApp, userId: string, query: string, variables?: unknown) {
  const res = await fetch(app.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.tokenFor(userId)}` },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { data?: unknown; errors?: { message: string }[] },
  };
}

function wsClient(app: TestApp, userId: string) {
  return createClient({
    url: app.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${app.tokenFor(userId)}` },
    retryAttempts: 0,
  });
}

/** The errors an operation over graphql-ws ends with (or its result's errors). */
function wsErrors(
  client: ReturnType<typeof createClient>,
  query: string,
): Promise<readonly { message: string }[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(
      { query },
      {
        next: (result) => resolve(result.errors ?? []),
        error: (e) => (Array.isArray(e) ? resolve(e as GraphQLError[]) : reject(e)),
        complete: () => resolve([]),
      },
    );
  });
}

describe('operation cost limits (HTTP and WebSocket)', () => {
  let app: TestApp;
  let embed: ReturnType<typeof vi.spyOn>;
  beforeAll(async () => {
    app = await startTestApp({ env: { WS_MAX_SUBSCRIPTIONS: '2', GRAPHQL_MAX_VARIABLES_BYTES: '2048' } });
    embed = vi.spyOn(app.services.embedder, 'embed');
  });
  afterAll(() => app?.close());

  it('refuses an alias bomb of searches before any embedding call', async () => {
    const { body } = await post(app, app.newUserId(), aliasedSearches(300));
    expect(body.data).toBeUndefined();
    expect(body.errors?.map((e) => e.message).join('\n')).toMatch(/aliases/i);
    expect(embed).not.toHaveBeenCalled();
  });

  it('refuses a documents × chunks fan-out by its cost', async () => {
    const { body } = await post(app, app.newUserId(), FAN_OUT);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/cost \d+ exceeds the limit of 5000/);
  });

  it('refuses a query nested too deep', async () => {
    const { body } = await post(app, app.newUserId(), TOO_DEEP);
    expect(body.data).toBeUndefined();
    expect(body.errors?.map((e) => e.message).join('\n')).toMatch(/depth limit of 10 exceeded/);
  });

  it('refuses variables over the size limit', async () => {
    const { status, body } = await post(
      app,
      app.newUserId(),
      'query ($q: String!) { search(query: $q) { __typename } }',
      {
        q: 'x'.repeat(4096),
      },
    );
    expect(status).toBe(413);
    expect(body.errors?.[0]?.message).toMatch(/variables of \d+ bytes exceed 2048 bytes/);
    expect(embed).not.toHaveBeenCalled();
  });

  it('lets GraphiQL introspect the schema', async () => {
    const { body } = await post(app, app.newUserId(), getIntrospectionQuery());
    expect(body.errors).toBeUndefined();
  });

  it('applies the same limits over WebSocket', async () => {
    const client = wsClient(app, app.newUserId());
    try {
      expect((await wsErrors(client, aliasedSearches(300))).map((e) => e.message).join('\n')).toMatch(
        /aliases/i,
      );
      expect((await wsErrors(client, FAN_OUT))[0]?.message).toMatch(/exceeds the limit of 5000/);
      expect((await wsErrors(client, TOO_DEEP)).map((e) => e.message).join('\n')).toMatch(/depth limit/);
      expect(embed).not.toHaveBeenCalled();
    } finally {
      await client.dispose();
    }
  });

  it('refuses a subscription beyond the per-connection cap, keeping the others', async () => {
    const user = app.client();
    const first = user.subscribeWs(IngestProgressDocument, {});
    const second = user.subscribeWs(IngestProgressDocument, {});
    const third = user.subscribeWs(IngestProgressDocument, {});
    await expect(third.next(5000)).rejects.toThrow(/At most 2 subscriptions may be open on one connection/);
    // the connection stays: a fourth after one completes is accepted
    first.close();
    await new Promise((r) => setTimeout(r, 200));
    const fourth = user.subscribeWs(IngestProgressDocument, {});
    await expect(fourth.next(500)).rejects.toThrow(/timed out/);
    second.close();
    fourth.close();
  });
});

describe('default limits and the SDK', () => {
  it('leave room for every SDK operation', () => {
    const config = parseConfig({});
    const rules = [
      ...specifiedRules,
      maxDepthRule({ n: config.GRAPHQL_MAX_DEPTH }),
      maxAliasesRule({ n: config.GRAPHQL_MAX_ALIASES }),
      maxDirectivesRule({ n: config.GRAPHQL_MAX_DIRECTIVES }),
      operationCostRule({
        maxCost: config.GRAPHQL_MAX_COST,
        weights: FIELD_WEIGHTS,
        maxPageSize: 200,
        defaultPageSize: 20,
      }),
    ];
    const documents = Object.entries(sdk).filter(([name]) => name.endsWith('Document'));
    expect(documents.length).toBeGreaterThan(10);
    for (const [name, doc] of documents) {
      expect(validate(schema, doc as never, rules).map((e) => `${name}: ${e.message}`)).toEqual([]);
    }
    expect(validate(schema, parse(getIntrospectionQuery()), rules)).toEqual([]);
  });

  it('weigh searches so that many aliased ones cost too much even under the alias limit', () => {
    const cost = operationCostRule({
      maxCost: 5000,
      weights: FIELD_WEIGHTS,
      maxPageSize: 200,
      defaultPageSize: 20,
    });
    expect(validate(schema, parse(aliasedSearches(10)), [cost])).toEqual([]);
    expect(validate(schema, parse(aliasedSearches(60)), [cost])[0]?.message).toMatch(
      /exceeds the limit of 5000/,
    );
  });
});

describe('per-user rate limits', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      env: {
        RATE_LIMIT_SEARCH: '2',
        RATE_LIMIT_REPLIES: '1',
        RATE_LIMIT_UPLOADS: '1',
        RATE_LIMIT_WINDOW_SEC: '60',
      },
    });
  });
  afterAll(() => app?.close());

  it('refuses searches past the quota with a retry-after, and not another user', async () => {
    const alice = app.client();
    for (let i = 0; i < 2; i++) {
      const ok = await alice.request(SearchDocument, { query: 'hello' });
      member(ok.data?.search, 'SearchResults');
    }
    const embed = vi.spyOn(app.services.embedder, 'embed');
    const refused = member(
      (await alice.request(SearchDocument, { query: 'hello' })).data?.search,
      'RateLimited',
    );
    expect(refused.code).toBe('RATE_LIMITED');
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(embed).not.toHaveBeenCalled();
    member((await app.client().request(SearchDocument, { query: 'hello' })).data?.search, 'SearchResults');
    embed.mockRestore();
  });

  it('refuses replies past the quota', async () => {
    const bob = app.client();
    const session = (await bob.request(StartChatDocument, {})).data!.startChat;
    member(
      (await bob.request(SendMessageDocument, { sessionId: session.id, content: 'hi' })).data?.sendMessage,
      'SendMessagePayload',
    );
    const refused = member(
      (await bob.request(SendMessageDocument, { sessionId: session.id, content: 'again' })).data?.sendMessage,
      'RateLimited',
    );
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    const carol = app.client();
    const other = (await carol.request(StartChatDocument, {})).data!.startChat;
    member(
      (await carol.request(SendMessageDocument, { sessionId: other.id, content: 'hi' })).data?.sendMessage,
      'SendMessagePayload',
    );
  });

  it('refuses uploads past the quota', async () => {
    const dave = app.client();
    const file = (name: string) => ({
      file: { name, content: `notes ${name} ${Math.random()}`, type: 'text/plain' },
    });
    const ok = await dave.upload(UploadDocumentDocument, { file: null as never }, file('a.txt'));
    member(ok.data?.uploadDocument, 'Document');
    const refused = await dave.upload(UploadDocumentDocument, { file: null as never }, file('b.txt'));
    expect(member(refused.data?.uploadDocument, 'RateLimited').retryAfterSeconds).toBeGreaterThan(0);
    const erin = await app.client().upload(UploadDocumentDocument, { file: null as never }, file('c.txt'));
    member(erin.data?.uploadDocument, 'Document');
  });
});

describe('the training quota', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      env: { RATE_LIMIT_TRAINING: '1', RATE_LIMIT_TRAINING_WINDOW_SEC: '3600', MODAL_TRAIN_URL: '' },
    });
  });
  afterAll(() => app?.close());

  it('a refused start costs nothing; past the quota startTraining answers RateLimited, not for others', async () => {
    const frank = app.client();
    // no trainer here: each start is refused, and gives its point back
    for (let i = 0; i < 3; i++)
      member((await frank.request(StartTrainingDocument, {})).data?.startTraining, 'TrainerUnavailable');
    // a run that started (here: on another replica) spends frank's one start of the window
    expect((await app.services.rateLimits.consume(frank.userId, 'training')).ok).toBe(true);
    const refused = member(
      (await frank.request(StartTrainingDocument, {})).data?.startTraining,
      'RateLimited',
    );
    expect(refused.code).toBe('RATE_LIMITED');
    expect(refused.message).toMatch(/too many training requests/);
    expect(refused.retryAfterSeconds).toBeGreaterThan(60);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(3600);
    member((await app.client().request(StartTrainingDocument, {})).data?.startTraining, 'TrainerUnavailable');
  });
});

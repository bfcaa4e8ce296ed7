import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../src/container.ts';
import { jobs } from '../src/jobs/registry.ts';
import { ChatSessionsDocument, DocumentDocument, DocumentsDocument } from '../src/sdk/generated/graphql.ts';
import { type App, createApp } from '../src/server.ts';
import { issueToken, signToken } from '../src/services/auth.service.ts';
import { createTestClient, type TestClient } from './helpers/client.ts';
import { TEST_AUTH_SECRET, testConfig } from './helpers/harness.ts';
import { uploadDocument } from './helpers/ingest.ts';

// Bad pagination input is the caller's mistake: a typed InvalidInput a client can act on, not a
// masked "Unexpected error." logged as a server fault. The app runs here with a logger we read.

interface LogLine {
  level: number;
  msg?: string;
}
const logged: LogLine[] = [];
let services: Services;
let app: App;
let url: string;
const clients: TestClient[] = [];

const client = (userId = `u-${randomUUID()}`) => {
  const c = createTestClient({
    url,
    wsUrl: url.replace('http', 'ws'),
    token: issueToken(TEST_AUTH_SECRET, userId),
    userId,
  });
  clients.push(c);
  return c;
};

type ErrorShape = { __typename: string; message?: string; code?: string };
const documentsWith = (args: string) =>
  parse(`query { documents(${args}) { __typename ... on Error { message code } } }`) as TypedDocumentNode<
    { documents: ErrorShape },
    Record<string, never>
  >;

const INVALID_CURSOR = expect.stringMatching(/not a cursor of this list.*endCursor/);

beforeAll(async () => {
  const config = testConfig({ LOG_LEVEL: 'info' });
  const log = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  services = await createServices(config, log, jobs);
  app = createApp(services);
  url = `http://127.0.0.1:${await app.listen(0, '127.0.0.1')}/graphql`;
});
afterAll(async () => {
  for (const c of clients) c.dispose();
  await app?.close();
  await services?.close();
});
afterEach(() => {
  const errors = logged.filter((l) => l.level >= 50).map((l) => l.msg);
  logged.length = 0;
  // an expected failure is no server fault: nothing at error level or above
  expect(errors).toEqual([]);
});

describe('invalid pagination input', () => {
  it('documents(first: 5, after: "garbage") is InvalidInput', async () => {
    const res = await client().request(DocumentsDocument, { first: 5, after: 'garbage' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.documents).toMatchObject({
      __typename: 'InvalidInput',
      code: 'INVALID_INPUT',
      message: INVALID_CURSOR,
    });
    // well-formed but not a document's cursor (no uuid): refused too, never sent to SQL
    const forged = Buffer.from(`${new Date().toISOString()}|nope`).toString('base64url');
    const again = await client().request(DocumentsDocument, { first: 5, after: forged });
    expect(again.data!.documents).toMatchObject({ __typename: 'InvalidInput', message: INVALID_CURSOR });
  });

  it('documents(last: 3), (before:) and (first: -1) are InvalidInput', async () => {
    const c = client();
    const bare = parse('{ documents(last: 3) { __typename } }') as TypedDocumentNode<
      { documents: { __typename: string } },
      Record<string, never>
    >;
    const res = await c.request(bare);
    expect(res.errors).toBeUndefined();
    expect(res.data!.documents.__typename).toBe('InvalidInput');
    for (const args of ['last: 3', 'before: "x"']) {
      const res = await c.request(documentsWith(args));
      expect(res.errors, args).toBeUndefined();
      expect(res.data!.documents, args).toMatchObject({
        __typename: 'InvalidInput',
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/pages forward only: use first and after/),
      });
    }
    const negative = await c.request(documentsWith('first: -1'));
    expect(negative.data!.documents).toMatchObject({
      __typename: 'InvalidInput',
      message: expect.stringMatching(/first must not be negative/),
    });
  });

  it('chatSessions(after: "garbage") is InvalidInput', async () => {
    const res = await client().request(ChatSessionsDocument, { after: 'garbage' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.chatSessions).toMatchObject({
      __typename: 'InvalidInput',
      code: 'INVALID_INPUT',
      message: INVALID_CURSOR,
    });
  });

  it('Document.chunks(after: "x") is InvalidInput beside the document', async () => {
    const c = client();
    const doc = await uploadDocument(c, 'note.txt', 'a short note about lighthouses and their keepers');
    const res = await c.request(DocumentDocument, { id: doc.id, after: 'x' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.document).toMatchObject({
      __typename: 'Document',
      id: doc.id,
      chunks: { __typename: 'InvalidInput', code: 'INVALID_INPUT', message: INVALID_CURSOR },
    });
  });
});

describe('user ids that name no tenant', () => {
  it.each(['.', '..'])('refuses a validly signed token for user id %j as unauthenticated', async (userId) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${signToken(TEST_AUTH_SECRET, userId)}`,
      },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    const body = (await res.json()) as {
      data?: unknown;
      errors?: { message: string; extensions?: { code?: string } }[];
    };
    expect(res.status).toBe(401);
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/invalid user id in token/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });
});

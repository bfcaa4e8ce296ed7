import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  ChatSessionsDocument,
  DocumentsDocument,
  UploadDocumentDocument,
} from '../src/sdk/generated/graphql.ts';
import { member } from './helpers/client.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';

// DESIGN §10, Browser: a page on another site must not act for the user, by form, by CORS or over
// the WebSocket. Token-less requests act as a user here, as in development, so a forged form
// would do something if it got through.
const APP_ORIGIN = 'https://app.example';
const EVIL_ORIGIN = 'https://evil.example';
const MiB = 1024 * 1024;

let app: TestApp;
let anonymous: string;

beforeAll(async () => {
  anonymous = `anon-${randomUUID()}`;
  app = await startTestApp({
    env: {
      CORS_ORIGINS: `${APP_ORIGIN}, https://admin.example`,
      AUTH_ALLOW_ANONYMOUS: 'true',
      AUTH_ANONYMOUS_USER_ID: anonymous,
    },
  });
});
afterAll(() => app?.close());

async function chatTitles(userId: string): Promise<string[]> {
  const result = await app.client(userId).request(ChatSessionsDocument, { first: 50 });
  const sessions = member(result.data?.chatSessions, 'QueryChatSessionsConnection');
  return sessions.edges.map((e) => e.node.title ?? '');
}

const startChat = (title: string) => `mutation { startChat(title: "${title}") { id } }`;

describe('CSRF prevention', () => {
  it('refuses a cross-site form POST and accepts the same request with the CSRF header', async () => {
    const form = (headers: Record<string, string>) =>
      fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ query: startChat('forged') }),
      });

    const forged = await form({ origin: EVIL_ORIGIN });
    expect(forged.status).toBe(403);
    expect(JSON.stringify(await forged.json())).toMatch(/CSRF/);
    const plain = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: EVIL_ORIGIN },
      body: JSON.stringify({ query: startChat('forged') }),
    });
    expect(plain.status).toBe(403);
    const get = await fetch(`${app.url}?query=${encodeURIComponent('{ me { id } }')}`);
    expect(get.status).toBe(403);
    expect(await chatTitles(anonymous)).toEqual([]);

    const own = await form({ 'x-graphql-yoga-csrf': '1' });
    expect(own.status).toBe(200);
    expect(((await own.json()) as { data: { startChat: { id: string } } }).data.startChat.id).toBeTruthy();
    expect(await chatTitles(anonymous)).toEqual(['forged']);
  });

  it('refuses a cross-site multipart upload; the SDK client, which sends the header, uploads', async () => {
    const client = app.client();
    const forged = new FormData();
    forged.append(
      'operations',
      JSON.stringify({
        query: 'mutation($f: File!){ uploadDocument(file: $f){ __typename } }',
        variables: { f: null },
      }),
    );
    forged.append('map', JSON.stringify({ 0: ['variables.f'] }));
    forged.append('0', new Blob(['forged notes'], { type: 'text/plain' }), 'forged.txt');
    const res = await fetch(app.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.token}`, origin: EVIL_ORIGIN },
      body: forged,
    });
    expect(res.status).toBe(403);

    const own = await client.upload(
      UploadDocumentDocument,
      { file: null as never },
      {
        file: { name: 'own.txt', content: 'my own notes', type: 'text/plain' },
      },
    );
    expect(member(own.data?.uploadDocument, 'Document').filename).toBe('own.txt');
    const list = await client.request(DocumentsDocument, { first: 10 });
    const docs = member(list.data?.documents, 'QueryDocumentsConnection');
    expect(docs.edges.map((e) => e.node.filename)).toEqual(['own.txt']);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    fetch(app.url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });

  it('gives a listed origin allow headers naming it, without credentials, and another origin none', async () => {
    const allowed = await preflight(APP_ORIGIN);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();

    for (const origin of [EVIL_ORIGIN, 'null', 'http://localhost:5173']) {
      const refused = await preflight(origin);
      expect(refused.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(refused.headers.get('access-control-allow-headers'), origin).toBeNull();
    }

    const token = app.tokenFor(app.newUserId());
    const post = (origin: string) =>
      fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, origin },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
    expect((await post('https://admin.example')).headers.get('access-control-allow-origin')).toBe(
      'https://admin.example',
    );
    expect((await post(EVIL_ORIGIN)).headers.get('access-control-allow-origin')).toBeNull();
  });
});

type Opened = { socket: WebSocket } | { status: number };

function openSocket(origin?: string): Promise<Opened> {
  const socket = new WebSocket(app.wsUrl, 'graphql-transport-ws', origin ? { origin } : {});
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket }));
    socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    socket.once('error', reject);
  });
}

/** A graphql-ws session on an open socket: init with the user's token, then one operation. */
async function initialise(socket: WebSocket, userId: string) {
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.send(
    JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${app.tokenFor(userId)}` } }),
  );
  await waitUntil(() => messages.some((m) => m.type === 'connection_ack'));
  return messages;
}

async function waitUntil(done: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WebSocket', () => {
  it('refuses the upgrade from an origin that is not listed, accepts a listed one and none', async () => {
    expect(await openSocket(EVIL_ORIGIN)).toEqual({ status: 403 });
    expect(await openSocket('http://localhost:5173')).toEqual({ status: 403 });

    for (const origin of [APP_ORIGIN, undefined]) {
      const opened = await openSocket(origin);
      if (!('socket' in opened)) throw new Error(`${origin} refused with ${opened.status}`);
      const userId = app.newUserId();
      const messages = await initialise(opened.socket, userId);
      opened.socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ me { id } }' } }));
      await waitUntil(() => messages.some((m) => m.type === 'next'));
      expect(messages.find((m) => m.type === 'next')?.payload).toEqual({ data: { me: { id: userId } } });
      opened.socket.close();
    }
  });

  it('closes the socket with 1009 on a 50 MB message and runs nothing of it', async () => {
    const subscribe = (title: string) =>
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: 'mutation($t: String){ startChat(title: $t){ id } }', variables: { t: title } },
      });

    // the same operation, small, runs: the refusal below is for its size
    const userId = app.newUserId();
    const small = await openSocket();
    if (!('socket' in small)) throw new Error('refused');
    const messages = await initialise(small.socket, userId);
    small.socket.send(subscribe('small'));
    await waitUntil(() => messages.some((m) => m.type === 'complete'));
    small.socket.close();
    expect(await chatTitles(userId)).toEqual(['small']);

    const big = await openSocket();
    if (!('socket' in big)) throw new Error('refused');
    await initialise(big.socket, userId);
    const closed = new Promise<number>((resolve) => big.socket.once('close', (code) => resolve(code)));
    big.socket.on('error', () => undefined);
    big.socket.send(subscribe('x'.repeat(50 * MiB)));
    expect(await closed).toBe(1009);
    await new Promise((r) => setTimeout(r, 500));
    expect(await chatTitles(userId)).toEqual(['small']);
  });
});

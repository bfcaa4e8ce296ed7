import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

/** The member of a result union a test expects; any other member (an error) fails, showing itself. */
export function member<T extends { __typename: string }, N extends T['__typename']>(
  value: T | null | undefined,
  typename: N,
): Extract<T, { __typename: N }> {
  if (value?.__typename !== typename) throw new Error(`expected ${typename}, got ${JSON.stringify(value)}`);
  return value as Extract<T, { __typename: N }>;
}

export interface Upload {
  name: string;
  content: Buffer | string;
  type?: string;
}

export interface LiveSubscription<T> {
  /** Everything received so far, in order. */
  received: T[];
  next(timeoutMs?: number): Promise<T>;
  take(n: number, timeoutMs?: number): Promise<T[]>;
  until(predicate: (value: T) => boolean, timeoutMs?: number): Promise<T[]>;
  close(): void;
}

export interface TestClient {
  userId: string;
  token: string;
  request<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): Promise<ExecutionResult<R>>;
  /** GraphQL multipart request: `files` maps variable paths (`file`, `files.0`) to uploads. */
  upload<R, V>(
    doc: TypedDocumentNode<R, V>,
    variables: V,
    files: Record<string, Upload>,
  ): Promise<ExecutionResult<R>>;
  subscribeWs<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): LiveSubscription<ExecutionResult<R>>;
  subscribeSse<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): LiveSubscription<ExecutionResult<R>>;
  dispose(): void;
}

function liveSubscription<T>(
  start: (sink: { next: (v: T) => void; error: (e: unknown) => void; complete: () => void }) => () => void,
): LiveSubscription<T> {
  const received: T[] = [];
  let cursor = 0;
  let failure: unknown;
  let done = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  const stop = start({
    next: (v) => {
      received.push(v);
      wake();
    },
    error: (e) => {
      failure = e;
      wake();
    },
    complete: () => {
      done = true;
      wake();
    },
  });
  const waitFor = async (has: () => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!has()) {
      if (failure) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
      if (done) throw new Error(`subscription completed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (got ${received.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        const w = () => {
          clearTimeout(t);
          waiters.delete(w);
          resolve();
        };
        waiters.add(w);
      });
    }
  };
  return {
    received,
    async next(timeoutMs = 10_000) {
      await waitFor(() => received.length > cursor, timeoutMs, 'the next event');
      return received[cursor++]!;
    },
    async take(n, timeoutMs = 10_000) {
      await waitFor(() => received.length >= cursor + n, timeoutMs, `${n} events`);
      const out = received.slice(cursor, cursor + n);
      cursor += n;
      return out;
    },
    async until(predicate, timeoutMs = 10_000) {
      let found = -1;
      await waitFor(
        () => {
          found = received.findIndex((v, i) => i >= cursor && predicate(v));
          return found >= 0;
        },
        timeoutMs,
        'a matching event',
      );
      const out = received.slice(cursor, found + 1);
      cursor = found + 1;
      return out;
    },
    close: stop,
  };
}

export function createTestClient(options: {
  url: string;
  wsUrl: string;
  token: string;
  userId: string;
}): TestClient {
  const authorization = `Bearer ${options.token}`;
  const ws = createWsClient({
    url: options.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization },
    lazy: true,
    retryAttempts: 0,
  });
  const sse = createSseClient({
    url: options.url,
    headers: { authorization },
    singleConnection: false,
    retryAttempts: 0,
  });

  return {
    userId: options.userId,
    token: options.token,
    async request(doc, variables) {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: print(doc), variables }),
      });
      return (await res.json()) as ExecutionResult<never>;
    },
    async upload(doc, variables, files) {
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: print(doc), variables }));
      const entries = Object.entries(files);
      form.append(
        'map',
        JSON.stringify(Object.fromEntries(entries.map(([path], i) => [String(i), [`variables.${path}`]]))),
      );
      entries.forEach(([, f], i) => {
        form.append(
          String(i),
          new Blob([typeof f.content === 'string' ? f.content : new Uint8Array(f.content)], {
            type: f.type ?? 'application/octet-stream',
          }),
          f.name,
        );
      });
      const res = await fetch(options.url, {
        method: 'POST',
        headers: { authorization, 'graphql-require-preflight': '1' },
        body: form,
      });
      return (await res.json()) as ExecutionResult<never>;
    },
    // Subscriptions resolve asynchronously on the server: pass afterSeq to be sure nothing
    // published right after subscribing is missed.
    subscribeWs(doc, variables) {
      return liveSubscription((sink) =>
        ws.subscribe({ query: print(doc), variables: variables as Record<string, unknown> }, sink as never),
      );
    },
    subscribeSse(doc, variables) {
      return liveSubscription((sink) =>
        sse.subscribe({ query: print(doc), variables: variables as Record<string, unknown> }, sink as never),
      );
    },
    dispose() {
      void ws.dispose();
      sse.dispose();
    },
  };
}

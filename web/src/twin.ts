import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';

// The dashboard's transport to the API, the one module that speaks the wire protocols: requests
// over HTTP, multipart uploads, and subscriptions over graphql-ws that resume after a dropped
// connection with `afterSeq` = the last seq delivered (no event lost or repeated). It follows the
// SDK contract (src/sdk: createTwinClient's request/subscribe); swap it for the SDK's browser-safe
// client once that lands.

export class TwinRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface Credentials {
  /** An API key or an access token; none for the development user. */
  secret?: string;
}

export interface SubscribeOptions<R> {
  /** The seq of an event, so a resumed subscription asks only for what follows it. */
  seqOf?: (r: R) => number | undefined;
  /** Whether an event ends the stream (no resume after it). */
  isLast?: (r: R) => boolean;
  /** Told when the connection drops and when it is back. */
  onConnection?: (state: 'connected' | 'reconnecting') => void;
}

export interface TwinTransport {
  request<R, V>(doc: TypedDocumentNode<R, V>, variables?: V): Promise<R>;
  upload<R, V>(doc: TypedDocumentNode<R, V>, variables: V, files: Record<string, File>): Promise<R>;
  subscribe<R, V extends Record<string, unknown>>(
    doc: TypedDocumentNode<R, V>,
    variables: V,
    onEvent: (r: R) => void,
    opts?: SubscribeOptions<R>,
  ): () => void;
  /** Drops the WebSocket as a network failure would (the tests use it); subscriptions resume. */
  dropConnection(): void;
  close(): void;
}

const authHeaders = (c: Credentials): Record<string, string> =>
  c.secret ? { authorization: `Bearer ${c.secret}` } : {};

async function readResult<R>(res: Response): Promise<R> {
  let body: { data?: R; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await res.json();
  } catch {
    throw new TwinRequestError(`the server answered ${res.status}`, `HTTP_${res.status}`);
  }
  const first = body.errors?.[0];
  if (first) throw new TwinRequestError(first.message, first.extensions?.code ?? 'GRAPHQL_ERROR');
  if (!body.data) throw new TwinRequestError(`the server answered ${res.status}`, `HTTP_${res.status}`);
  return body.data;
}

export function createTransport(endpoint: string, credentials: Credentials): TwinTransport {
  const httpUrl = new URL(endpoint, location.href).toString();
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  let socket: WebSocket | undefined;
  const ws: Client = createClient({
    url: wsUrl,
    lazy: true,
    // reconnecting is done per subscription below, with afterSeq
    retryAttempts: 0,
    keepAlive: 15_000,
    connectionParams: credentials.secret ? { authorization: `Bearer ${credentials.secret}` } : {},
    on: { opened: (s) => (socket = s as WebSocket) },
  });

  return {
    async request(doc, variables) {
      const res = await fetch(httpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...authHeaders(credentials),
        },
        body: JSON.stringify({ query: print(doc), variables }),
      });
      return readResult(res);
    },

    async upload(doc, variables, files) {
      // the GraphQL multipart request spec; the header is the CSRF defence's (browser-defences.ts)
      const form = new FormData();
      form.append('operations', JSON.stringify({ query: print(doc), variables }));
      const entries = Object.entries(files);
      form.append(
        'map',
        JSON.stringify(Object.fromEntries(entries.map(([p], i) => [String(i), [`variables.${p}`]]))),
      );
      entries.forEach(([, file], i) => {
        form.append(String(i), file, file.name);
      });
      const res = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'graphql-require-preflight': '1', ...authHeaders(credentials) },
        body: form,
      });
      return readResult(res);
    },

    subscribe<R, V extends Record<string, unknown>>(
      doc: TypedDocumentNode<R, V>,
      variables: V,
      onEvent: (r: R) => void,
      opts: SubscribeOptions<R> = {},
    ) {
      const query = print(doc);
      let lastSeq: number | undefined = variables.afterSeq as number | undefined;
      let stop: (() => void) | undefined;
      let stopped = false;
      let ended = false;
      let failures = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;

      const start = () => {
        if (stopped) return;
        const vars = lastSeq === undefined ? variables : { ...variables, afterSeq: lastSeq };
        let opened = false;
        stop = ws.subscribe<R>(
          { query, variables: vars },
          {
            next: (result) => {
              if (!opened) {
                opened = true;
                failures = 0;
                opts.onConnection?.('connected');
              }
              if (result.errors?.length || !result.data) return;
              const data = result.data as R;
              const seq = opts.seqOf?.(data);
              // a replay after a reconnect never repeats what was delivered
              if (seq !== undefined && lastSeq !== undefined && seq <= lastSeq) return;
              if (seq !== undefined) lastSeq = seq;
              if (opts.isLast?.(data)) ended = true;
              onEvent(data);
            },
            error: () => retry(),
            complete: () => {
              if (!ended) retry();
            },
          },
        );
      };
      const retry = () => {
        if (stopped || ended) return;
        opts.onConnection?.('reconnecting');
        const delay = Math.min(5000, 250 * 2 ** failures++);
        timer = setTimeout(start, delay);
      };
      start();
      return () => {
        stopped = true;
        clearTimeout(timer);
        stop?.();
      };
    },

    dropConnection() {
      socket?.close(4499, 'dropped');
    },

    close() {
      void ws.dispose();
    },
  };
}

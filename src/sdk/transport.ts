// Transports of the SDK: one GraphQL request over HTTP (JSON or the multipart request spec), and one
// subscription attempt over graphql-ws or over Yoga's SSE (POST /graphql with Accept:
// text/event-stream). Browser-safe: fetch, FormData, Blob, WebSocket and streams only.
import type { ExecutionResult, GraphQLFormattedError } from 'graphql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

/** A failed request: GraphQL errors in the response, an HTTP error, or no connection at all. */
export class TwinRequestError extends Error {
  override readonly name = 'TwinRequestError';
  /** The first error's `extensions.code`, else `HTTP_<status>`, `NETWORK` or `CONNECTION_CLOSED`. */
  readonly code: string;
  readonly status: number | undefined;
  readonly errors: readonly GraphQLFormattedError[];
  /** True when the same request may succeed later (a dropped connection, a 5xx). */
  readonly retryable: boolean;

  constructor(
    message: string,
    opts: {
      code: string;
      status?: number;
      errors?: readonly GraphQLFormattedError[];
      retryable?: boolean;
      cause?: unknown;
    },
  ) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
    this.status = opts.status;
    this.errors = opts.errors ?? [];
    this.retryable = opts.retryable ?? false;
  }

  static fromErrors(errors: readonly GraphQLFormattedError[], status?: number): TwinRequestError {
    const first = errors[0];
    const code = typeof first?.extensions?.code === 'string' ? first.extensions.code : 'GRAPHQL_ERROR';
    return new TwinRequestError(errors.map((e) => e.message).join('; ') || 'GraphQL error', {
      code,
      status,
      errors,
    });
  }
}

export interface Operation {
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
}

/** A file of a multipart request, at `path` in the variables (`file`, `files.0`). */
export interface UploadPart {
  path: string;
  file: Blob;
  filename: string;
}

export interface HttpOptions {
  url: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

async function readResult(res: Response): Promise<ExecutionResult<unknown>> {
  const type = res.headers.get('content-type') ?? '';
  if (!/json/i.test(type)) {
    const text = await res.text().catch(() => '');
    throw new TwinRequestError(`HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, {
      code: `HTTP_${res.status}`,
      status: res.status,
      retryable: res.status >= 500,
    });
  }
  const body = (await res.json()) as ExecutionResult<unknown>;
  if (body.errors?.length) throw TwinRequestError.fromErrors(body.errors, res.status);
  if (!res.ok || body.data == null)
    throw new TwinRequestError(`HTTP ${res.status} without data`, {
      code: `HTTP_${res.status}`,
      status: res.status,
      retryable: res.status >= 500,
    });
  return body;
}

async function send(http: HttpOptions, init: RequestInit): Promise<Response> {
  try {
    return await http.fetch(http.url, { ...init, signal: http.signal });
  } catch (cause) {
    if (http.signal?.aborted) throw cause;
    throw new TwinRequestError(`cannot reach ${http.url}: ${(cause as Error).message}`, {
      code: 'NETWORK',
      retryable: true,
      cause,
    });
  }
}

/** One operation as a JSON POST; resolves to `data`, throws TwinRequestError on any error. */
export async function postJson(http: HttpOptions, op: Operation): Promise<unknown> {
  const res = await send(http, {
    method: 'POST',
    headers: { ...http.headers, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(op),
  });
  return (await readResult(res)).data;
}

/** One operation as a GraphQL multipart request (the spec the server's upload parser accepts). */
export async function postMultipart(http: HttpOptions, op: Operation, parts: UploadPart[]): Promise<unknown> {
  const form = new FormData();
  form.append('operations', JSON.stringify(op));
  form.append(
    'map',
    JSON.stringify(Object.fromEntries(parts.map((p, i) => [String(i), [`variables.${p.path}`]]))),
  );
  for (const [i, p] of parts.entries()) form.append(String(i), p.file, p.filename);
  const res = await send(http, {
    method: 'POST',
    // the CSRF header non-JSON requests need (DESIGN §10)
    headers: { ...http.headers, 'graphql-require-preflight': '1', accept: 'application/json' },
    body: form,
  });
  return (await readResult(res)).data;
}

/** What one subscription attempt delivers: results, then complete, or an error. */
export interface Sink {
  next(result: ExecutionResult<unknown>): void;
  error(error: unknown): void;
  complete(): void;
}

export type Attempt = (op: Operation, sink: Sink) => () => void;

// graphql-ws close codes after which trying again cannot help (bad request, unauthorized,
// forbidden, too many initialisation requests, subscriber for the id already exists)
const FATAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4406, 4409, 4429]);

function closeError(event: unknown): TwinRequestError {
  const code = (event as { code?: number })?.code;
  const reason = (event as { reason?: string })?.reason;
  if (typeof code === 'number') {
    const fatal = FATAL_CLOSE_CODES.has(code);
    return new TwinRequestError(`WebSocket closed with ${code}${reason ? ` ${reason}` : ''}`, {
      code: code === 4401 || code === 4403 ? 'UNAUTHENTICATED' : fatal ? `WS_${code}` : 'CONNECTION_CLOSED',
      retryable: !fatal,
      cause: event,
    });
  }
  if (event instanceof TwinRequestError) return event;
  if (Array.isArray(event)) return TwinRequestError.fromErrors(event as GraphQLFormattedError[]);
  const message = event instanceof Error ? event.message : 'WebSocket error';
  return new TwinRequestError(message, { code: 'NETWORK', retryable: true, cause: event });
}

export interface WsTransport {
  attempt: Attempt;
  /** Whether a socket ever reached `connected` (auto mode falls back to SSE only if not). */
  everConnected(): boolean;
  /** Drops the current socket (tests; a program that knows its network changed). */
  terminate(): void;
  dispose(): Promise<void>;
}

export function wsTransport(opts: {
  url: string;
  authorization?: string;
  webSocketImpl: unknown;
}): WsTransport {
  let connected = false;
  const client: WsClient = createWsClient({
    url: opts.url.replace(/^http/, 'ws'),
    webSocketImpl: opts.webSocketImpl,
    connectionParams: opts.authorization ? { authorization: opts.authorization } : {},
    lazy: true,
    // the SDK resumes itself with afterSeq; graphql-ws's retry would re-send the first payload
    retryAttempts: 0,
    on: {
      connected: () => {
        connected = true;
      },
    },
  });
  return {
    attempt(op, sink) {
      return client.subscribe(op, {
        next: (r) => sink.next(r as ExecutionResult<unknown>),
        complete: () => sink.complete(),
        error: (e) => sink.error(closeError(e)),
      });
    },
    everConnected: () => connected,
    terminate: () => client.terminate(),
    dispose: () => Promise.resolve(client.dispose()),
  };
}

/** Parses a text/event-stream body into its events (`event`, `data`), comments dropped. */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const reader = body
    .pipeThrough(new TextDecoderStream() as ReadableWritablePair<string, Uint8Array>)
    .getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (!line || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length || event !== 'message') yield { event, data: data.join('\n') };
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

/** One subscription per request over Yoga's SSE (distinct connections: `next` and `complete` events). */
export function sseTransport(http: Omit<HttpOptions, 'signal'>): Attempt {
  return (op, sink) => {
    const abort = new AbortController();
    let closed = false;
    const finish = (f: () => void) => {
      if (closed) return;
      closed = true;
      f();
    };
    void (async () => {
      let res: Response;
      try {
        res = await http.fetch(http.url, {
          method: 'POST',
          headers: { ...http.headers, 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify(op),
          signal: abort.signal,
        });
      } catch (cause) {
        if (abort.signal.aborted) return;
        return finish(() =>
          sink.error(
            new TwinRequestError(`cannot reach ${http.url}: ${(cause as Error).message}`, {
              code: 'NETWORK',
              retryable: true,
              cause,
            }),
          ),
        );
      }
      const type = res.headers.get('content-type') ?? '';
      if (!res.ok || !type.includes('text/event-stream') || !res.body) {
        // an error answered as JSON (authentication, validation) or an HTTP error
        try {
          await readResult(res);
          throw new TwinRequestError(`HTTP ${res.status}: not an event stream`, {
            code: `HTTP_${res.status}`,
            status: res.status,
          });
        } catch (error) {
          return finish(() => sink.error(error));
        }
      }
      try {
        for await (const { event, data } of sseEvents(res.body)) {
          if (closed) return;
          if (event === 'complete') return finish(() => sink.complete());
          if (event === 'next' || event === 'message') {
            if (data) sink.next(JSON.parse(data) as ExecutionResult<unknown>);
          }
        }
        // the stream ended without `complete`: the connection dropped
        finish(() =>
          sink.error(
            new TwinRequestError('event stream ended', { code: 'CONNECTION_CLOSED', retryable: true }),
          ),
        );
      } catch (cause) {
        if (abort.signal.aborted) return;
        finish(() =>
          sink.error(
            new TwinRequestError(`event stream failed: ${(cause as Error).message}`, {
              code: 'CONNECTION_CLOSED',
              retryable: true,
              cause,
            }),
          ),
        );
      }
    })();
    return () => {
      closed = true;
      abort.abort();
    };
  };
}

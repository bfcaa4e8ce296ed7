import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

// The id of the HTTP request being served, for every log line written while serving it and for
// the masked errors it returns: a user's report names the id, the logs find the request.
const storage = new AsyncLocalStorage<{ requestId: string }>();

const WELL_FORMED = /^[A-Za-z0-9._:-]{8,128}$/;

/** An incoming `x-request-id` when well-formed (a proxy's or the client's), else a new one. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && WELL_FORMED.test(header) ? header : randomUUID();
}

export function withRequestId<T>(requestId: string, run: () => T): T {
  return storage.run({ requestId }, run);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * The id of one graphql-ws operation: the upgrade request's well-formed `x-request-id` joined with
 * the operation's id (one socket carries many operations), else a new one.
 */
export function operationRequestId(header: string | string[] | undefined, operationId: string): string {
  const joined = typeof header === 'string' ? `${header}:${operationId}` : '';
  return WELL_FORMED.test(joined) && WELL_FORMED.test(header as string) ? joined : randomUUID();
}

/**
 * `source` with each step run under `requestId`: a subscription's events are pulled by graphql-ws's
 * loop, outside the context the operation started in, so its resolvers' log lines and masked
 * errors would lose the id.
 */
export function keepRequestId<T>(requestId: string, source: AsyncIterable<T>): AsyncIterableIterator<T> {
  const inner = source[Symbol.asyncIterator]();
  const wrapped: AsyncIterableIterator<T> = {
    next: (...args: [] | [unknown]) => withRequestId(requestId, () => inner.next(...args)),
    return: (value?: unknown) =>
      withRequestId(requestId, () =>
        inner.return ? inner.return(value) : Promise.resolve({ done: true as const, value: value as T }),
      ),
    throw: (error?: unknown) =>
      withRequestId(requestId, () => (inner.throw ? inner.throw(error) : Promise.reject(error))),
    [Symbol.asyncIterator]: () => wrapped,
  };
  return wrapped;
}

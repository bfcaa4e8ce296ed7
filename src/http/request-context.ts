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

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createContext, useContext, useEffect, useRef } from 'react';
import type { SubscribeOptions, TwinTransport } from './twin.ts';

// The signed-in session: the credential lives in sessionStorage only (this tab, gone when it
// closes), never in localStorage or a cookie.

const KEY = 'twin.credential';

export interface StoredCredential {
  /** An API key or access token; undefined for the development user. */
  secret?: string;
}

export function loadCredential(): StoredCredential | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (raw === null) return undefined;
  return raw === '' ? {} : { secret: raw };
}

export function saveCredential(c: StoredCredential | undefined): void {
  if (c === undefined) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, c.secret ?? '');
}

export const TransportContext = createContext<TwinTransport | null>(null);

export function useTransport(): TwinTransport {
  const t = useContext(TransportContext);
  if (!t) throw new Error('no transport: render inside <TransportContext.Provider>');
  return t;
}

/**
 * A live subscription for as long as the component is mounted (and `key` unchanged); `onEvent`
 * may change between renders without resubscribing. Resumes after a dropped connection.
 */
export function useLive<R, V extends Record<string, unknown>>(
  doc: TypedDocumentNode<R, V>,
  variables: V | null,
  onEvent: (r: R) => void,
  opts: SubscribeOptions<R> = {},
): void {
  const transport = useTransport();
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const options = useRef(opts);
  options.current = opts;
  const key = variables === null ? null : JSON.stringify(variables);
  // resubscribes when the variables change, by value (`key`)
  useEffect(() => {
    if (key === null) return;
    return transport.subscribe(doc, JSON.parse(key) as V, (r) => handler.current(r), {
      seqOf: (r) => options.current.seqOf?.(r),
      isLast: (r) => options.current.isLast?.(r) ?? false,
      onConnection: (s) => options.current.onConnection?.(s),
    });
  }, [transport, doc, key]);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

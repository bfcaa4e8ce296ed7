import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createTwinClient, TwinRequestError } from '../../src/sdk/index.ts';

// The dashboard's transport to the API: the SDK's browser-safe client (src/sdk, createTwinClient)
// — requests over HTTP, multipart uploads, and subscriptions over graphql-ws (SSE when a socket
// cannot connect) that resume after a dropped connection with `afterSeq` = the last seq delivered,
// so no event is lost or repeated. This module only turns its async iterators into the callbacks
// React effects want.

export { TwinRequestError };

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

export function createTransport(endpoint: string, credentials: Credentials): TwinTransport {
  const client = createTwinClient({
    url: new URL(endpoint, location.href).toString(),
    ...(credentials.secret ? { apiKey: credentials.secret } : {}),
    // a page left open rides out any outage: it keeps trying, every 5 s at most
    reconnect: { attempts: Number.POSITIVE_INFINITY, baseDelayMs: 250, maxDelayMs: 5000 },
  });
  return {
    request: (doc, variables) =>
      (client.request as (d: unknown, v?: unknown) => Promise<never>)(doc, variables),
    upload: (doc, variables, files) =>
      client.upload(
        doc,
        variables,
        Object.fromEntries(
          Object.entries(files).map(([path, file]) => [path, { name: file.name, data: file }]),
        ),
      ),
    subscribe(doc, variables, onEvent, opts = {}) {
      const subscription = client.subscribe(doc, variables, {
        seqOf: opts.seqOf,
        isLast: opts.isLast,
        onConnection: (state) => opts.onConnection?.(state),
      });
      void (async () => {
        try {
          for await (const event of subscription) onEvent(event);
        } catch (error) {
          // a refusal by the server (not a dropped connection): the view keeps what it has
          console.warn('subscription ended:', error);
        }
      })();
      return () => subscription.close();
    },
    dropConnection: () => client.dropConnection(),
    close: () => void client.close(),
  };
}

// What the helpers (uploadFiles, ask, train) need of a client: its requests and subscriptions.
// Its own module so that index.ts, which builds the client from the helpers, and the helpers do
// not import each other.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { SubscribeOptions, TwinSubscription } from './subscribe.ts';

/** Variables as an argument: optional where the operation has no required variable. */
export type VariablesOf<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

/** A file to upload: its name and its bytes. */
export interface FileInput {
  name: string;
  data: Blob | ArrayBuffer | Uint8Array | string;
  type?: string;
}

export interface CoreClient {
  /** One query or mutation; resolves to `data`. GraphQL and HTTP errors throw TwinRequestError. */
  request<R, V>(doc: TypedDocumentNode<R, V>, ...variables: VariablesOf<V>): Promise<R>;
  /** A multipart request: `files` maps variable paths (`file`, `files.0`) to files. */
  upload<R, V>(doc: TypedDocumentNode<R, V>, variables: V, files: Record<string, FileInput>): Promise<R>;
  /** A subscription as an async iterator that reconnects and resumes on its own (see seqOf). */
  subscribe<R, V>(
    doc: TypedDocumentNode<R, V>,
    variables: V,
    options?: SubscribeOptions<R>,
  ): TwinSubscription<R>;
}

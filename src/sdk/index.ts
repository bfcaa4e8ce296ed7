// The typed SDK (`digital-twin-server/sdk`): createTwinClient over the codegen'd TypedDocumentNodes
// of src/sdk/generated. Requests over HTTP; subscriptions over graphql-ws, or SSE where a WebSocket
// cannot connect, resuming with afterSeq after a dropped connection. Browser-safe: no node: imports
// here or in what it imports (reading files from paths is src/sdk/node.ts).
import { type DocumentNode, print } from 'graphql';
import { type AskEvent, type AskOptions, ask } from './chat.ts';
import type { CoreClient, FileInput } from './core.ts';
import { type AttemptSource, type ReconnectOptions, resumableSubscription } from './subscribe.ts';
import { type TrainOptions, type TrainResult, train } from './training.ts';
import {
  type HttpOptions,
  type Operation,
  postJson,
  postMultipart,
  sseTransport,
  type TwinRequestError,
  type UploadPart,
  type WsTransport,
  wsTransport,
} from './transport.ts';
import {
  type ReadFile,
  type UploadFilesOptions,
  type UploadInput,
  type UploadResult,
  uploadFiles,
} from './upload.ts';

export type { AskEvent, AskOptions } from './chat.ts';
export type { CoreClient, FileInput, VariablesOf } from './core.ts';
export * from './generated/graphql.ts';
export type { ReconnectOptions, SubscribeOptions, TwinSubscription } from './subscribe.ts';
export type { TrainingStatusEvent, TrainOptions, TrainResult } from './training.ts';
export { TwinRequestError } from './transport.ts';
export type { UploadFilesOptions, UploadInput, UploadProgress, UploadResult } from './upload.ts';

export interface TwinClientOptions {
  /** The GraphQL endpoint, e.g. `http://localhost:4000/graphql` (its ws:// twin serves graphql-ws). */
  url: string;
  /** An API key (`createApiKey`) or an access token; either is sent as `Authorization: Bearer`. */
  apiKey?: string;
  token?: string;
  fetch?: typeof fetch;
  /** A WebSocket constructor (default: the global one); `false` for SSE only. */
  webSocket?: unknown;
  /** `auto` (default): graphql-ws, falling back to SSE for good when a socket never connects. */
  transport?: 'auto' | 'ws' | 'sse';
  headers?: Record<string, string>;
  reconnect?: ReconnectOptions;
  /** Reads a path given to `uploadFiles` (`sdk/node` sets it; a browser passes `{ name, data }`). */
  readFile?: ReadFile;
}

export interface TwinClient extends CoreClient {
  /**
   * Uploads files (one multipart request per batch), then follows each document on ingestProgress;
   * resolves when every one is PROCESSED or FAILED (REFUSED: not taken, with the reason).
   */
  uploadFiles(files: UploadInput[], options?: UploadFilesOptions): Promise<UploadResult[]>;
  /** Sends a message; yields the reply's deltas, then its citations and the stored message. */
  ask(sessionId: string, text: string, options?: AskOptions): AsyncIterable<AskEvent>;
  /** Starts training and follows trainingStatus to the final state; refusals are typed results. */
  train(options?: TrainOptions): Promise<TrainResult>;
  /** Which transport subscriptions use now (auto mode may have fallen back to SSE). */
  readonly transport: 'ws' | 'sse';
  /** Drops the WebSocket as a network failure would; open subscriptions resume. */
  dropConnection(): void;
  close(): Promise<void>;
}

const printed = new WeakMap<DocumentNode, string>();
function queryOf(doc: DocumentNode): string {
  let query = printed.get(doc);
  if (query === undefined) {
    query = print(doc);
    printed.set(doc, query);
  }
  return query;
}

function operationName(doc: DocumentNode): string | undefined {
  for (const d of doc.definitions) if (d.kind === 'OperationDefinition') return d.name?.value;
  return undefined;
}

/** What the transports send for a document: its text, the variables and its operation's name. */
function operationOf(doc: DocumentNode, variables: unknown): Operation {
  return {
    query: queryOf(doc),
    variables: variables as Record<string, unknown> | undefined,
    operationName: operationName(doc),
  };
}

export function toBlob(file: FileInput): Blob {
  if (file.data instanceof Blob) return file.data;
  const type = file.type ?? 'application/octet-stream';
  if (typeof file.data === 'string') return new Blob([file.data], { type });
  const bytes = file.data instanceof Uint8Array ? file.data : new Uint8Array(file.data);
  return new Blob([bytes as Uint8Array<ArrayBuffer>], { type });
}

export function createTwinClient(options: TwinClientOptions): TwinClient {
  const secret = options.apiKey ?? options.token;
  const authorization = secret ? `Bearer ${secret}` : undefined;
  const http: HttpOptions = {
    url: options.url,
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    headers: { ...options.headers, ...(authorization ? { authorization } : {}) },
  };
  const webSocketImpl = options.webSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket;
  const mode = options.transport ?? 'auto';
  let ws: WsTransport | undefined;
  if (mode !== 'sse' && webSocketImpl) ws = wsTransport({ url: options.url, authorization, webSocketImpl });
  else if (mode === 'ws') throw new Error('transport "ws" needs a WebSocket implementation');
  const sse = sseTransport(http);
  let current: 'ws' | 'sse' = ws ? 'ws' : 'sse';

  const source: AttemptSource = {
    attempt: () => (current === 'ws' && ws ? ws.attempt : sse),
    failed: (error: TwinRequestError) => {
      // a socket that never connected (blocked by a proxy, no WebSocket route): SSE from now on
      if (mode !== 'auto' || current !== 'ws' || !ws || ws.everConnected()) return false;
      if (error.code !== 'NETWORK' && error.code !== 'CONNECTION_CLOSED') return false;
      current = 'sse';
      return true;
    },
  };

  const client: TwinClient = {
    request(doc, ...[variables]) {
      return postJson(http, operationOf(doc, variables)) as never;
    },
    upload(doc, variables, files) {
      const parts: UploadPart[] = Object.entries(files).map(([path, f]) => ({
        path,
        file: toBlob(f),
        filename: f.name,
      }));
      return postMultipart(http, operationOf(doc, variables), parts) as never;
    },
    subscribe(doc, variables, opts = {}) {
      return resumableSubscription(source, operationOf(doc, variables), opts, options.reconnect);
    },
    get transport() {
      return current;
    },
    dropConnection() {
      ws?.terminate();
    },
    uploadFiles: (files, opts) => uploadFiles(client, files, { ...opts, readFile: options.readFile }),
    ask: (sessionId, text, opts) => ask(client, sessionId, text, opts),
    train: (opts) => train(client, opts),
    async close() {
      await ws?.dispose();
    },
  };
  return client;
}

import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Context, SubscribePayload } from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { WsOptions } from './ws-limits.ts';

// Persisted operations (DESIGN §10): the SDK's documents, named by the sha256 of their printed
// text in src/sdk/generated/persisted-documents.json (written by `npm run codegen`). A client sends
// `extensions.persistedQuery.sha256Hash` instead of the query text. PERSISTED_OPERATIONS=off runs
// any operation; `allow` runs hashes and text; `only` refuses every operation that is not one of
// the manifest's, over HTTP and graphql-ws alike (GraphiQL then needs `allow`).

export type PersistedOperationsMode = Config['PERSISTED_OPERATIONS'];

/** The manifest: sha256 of a document's printed text → that text. */
export type PersistedManifest = ReadonlyMap<string, string>;

const MANIFEST = new URL('../sdk/generated/persisted-documents.json', import.meta.url);

export function loadPersistedManifest(file: URL = MANIFEST): PersistedManifest {
  return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>));
}

const ONLY_MESSAGE =
  'This server runs only persisted operations (PERSISTED_OPERATIONS=only): send ' +
  'extensions.persistedQuery.sha256Hash of a document of the SDK, not the query text.';
const NOT_FOUND_MESSAGE = 'PersistedQueryNotFound: no persisted operation has this sha256Hash.';

const onlyError = () => new GraphQLError(ONLY_MESSAGE, { extensions: { code: 'PERSISTED_QUERY_ONLY' } });
const notFoundError = () =>
  new GraphQLError(NOT_FOUND_MESSAGE, { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });

/** Yoga's plugin over HTTP (GET and POST); nothing when the mode is off. */
export function usePersistedOperationsPolicy(
  mode: PersistedOperationsMode,
  manifest: PersistedManifest,
): Plugin[] {
  if (mode === 'off') return [];
  return [
    usePersistedOperations({
      getPersistedOperation: (key) => manifest.get(key) ?? null,
      allowArbitraryOperations: mode === 'allow',
      customErrors: {
        persistedQueryOnly: { message: ONLY_MESSAGE, extensions: { code: 'PERSISTED_QUERY_ONLY' } },
        notFound: { message: NOT_FOUND_MESSAGE, extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
      },
    }) as Plugin,
  ];
}

function hashOf(params: SubscribePayload): string | undefined {
  const persisted = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)
    ?.persistedQuery;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
}

/**
 * The same policy over graphql-ws, whose operations do not pass Yoga's HTTP hooks: a subscribe
 * message with a known hash runs the manifest's text (its `query` may be empty); under `only`,
 * one without is refused as that operation's error, the socket staying open.
 */
export function persistedOperationsOverWebSocket(
  options: WsOptions,
  mode: PersistedOperationsMode,
  manifest: PersistedManifest,
): WsOptions {
  if (mode === 'off') return options;
  const inner = options.onSubscribe;
  return {
    ...options,
    onSubscribe: (ctx: Context<Record<string, unknown>, Extra>, id: string, params: SubscribePayload) => {
      const hash = hashOf(params);
      if (hash !== undefined) {
        const query = manifest.get(hash);
        return query === undefined ? [notFoundError()] : inner?.(ctx, id, { ...params, query });
      }
      if (mode === 'only') return [onlyError()];
      return inner?.(ctx, id, params);
    },
  };
}

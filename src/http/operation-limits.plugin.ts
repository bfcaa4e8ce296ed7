import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import { operationCostRule } from './operation-cost.ts';

type LimitsConfig = Pick<
  Config,
  | 'GRAPHQL_MAX_DEPTH'
  | 'GRAPHQL_MAX_ALIASES'
  | 'GRAPHQL_MAX_DIRECTIVES'
  | 'GRAPHQL_MAX_TOKENS'
  | 'GRAPHQL_MAX_COST'
  | 'GRAPHQL_MAX_VARIABLES_BYTES'
>;

// What one call of a field adds to an operation's cost, beyond 1 per object: an embedding call,
// a model reply, a chunk's text read from object storage.
export const FIELD_WEIGHTS: Record<string, number> = {
  'Query.search': 100,
  'Mutation.sendMessage': 100,
  // a run's data synthesis and GPU time (one active run per user besides)
  'Mutation.startTraining': 100,
  'DocumentChunk.text': 1,
  'SearchHit.text': 1,
  'ReplySource.text': 1,
  // memory passages are read from S3 as chunk text is
  'MemoryChunk.text': 1,
  'EntityMention.text': 1,
};

// the largest page a connection serves (src/resolvers: documents and chat sessions 100, chunks 200)
const MAX_PAGE_SIZE = 200;
// fields whose resolvers cap the page lower than that (src/resolvers/memory.resolver.ts)
const MAX_PAGE_SIZES: Record<string, number> = {
  'Memory.entities': 100,
  'Entity.mentions': 100,
  'Entity.relations': 100,
  // src/resolvers/training.resolver.ts TRAINING_RUNS_PAGE
  'Query.trainingRuns': 50,
};
const DEFAULT_PAGE_SIZE = 20;

/** An operation's variables over `maxBytes` of JSON, as a GraphQLError; else undefined. */
export function variablesTooLarge(variables: unknown, maxBytes: number): GraphQLError | undefined {
  if (variables == null) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(variables) ?? '');
  if (bytes <= maxBytes) return undefined;
  return new GraphQLError(`The operation's variables of ${bytes} bytes exceed ${maxBytes} bytes.`, {
    extensions: { code: 'VARIABLES_TOO_LARGE', http: { status: 413 } },
  });
}

/**
 * Depth, alias, directive and token limits (graphql-armor) and a weighted cost limit, all in
 * envelop's parse and validate, so operations over graphql-ws meet them as HTTP ones do (DESIGN
 * §10); variables are limited here for HTTP and in webSocketLimits for WebSocket.
 */
export function useOperationLimits(config: LimitsConfig): Plugin[] {
  const armor = { exposeLimits: true, propagateOnRejection: true };
  return [
    maxTokensPlugin({ ...armor, n: config.GRAPHQL_MAX_TOKENS }) as Plugin,
    maxDepthPlugin({ ...armor, n: config.GRAPHQL_MAX_DEPTH, ignoreIntrospection: true }) as Plugin,
    maxAliasesPlugin({ ...armor, n: config.GRAPHQL_MAX_ALIASES }) as Plugin,
    maxDirectivesPlugin({ ...armor, n: config.GRAPHQL_MAX_DIRECTIVES }) as Plugin,
    {
      onValidate({ addValidationRule }) {
        addValidationRule(
          operationCostRule({
            maxCost: config.GRAPHQL_MAX_COST,
            weights: FIELD_WEIGHTS,
            maxPageSize: MAX_PAGE_SIZE,
            maxPageSizes: MAX_PAGE_SIZES,
            defaultPageSize: DEFAULT_PAGE_SIZE,
          }),
        );
      },
      onParams({ params }) {
        const error = variablesTooLarge(params.variables, config.GRAPHQL_MAX_VARIABLES_BYTES);
        if (error) throw error;
      },
    },
  ];
}

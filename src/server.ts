import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import type { Context, ServerOptions, SubscribePayload } from 'graphql-ws';
import { type Extra, useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Services } from './container.ts';
import type { GraphQLContext } from './context.ts';
import { isAppRoute, serveApp } from './http/app.route.ts';
import { corsPolicy, useCsrfPrevention, webSocketDefences } from './http/browser-defences.ts';
import { serveExport } from './http/export.route.ts';
import { graphiqlExamples } from './http/graphiql-examples.ts';
import { routeOf, serveMetrics, useOperationMetrics } from './http/metrics.ts';
import { createOpenAICompatRoute, isOpenAICompatRoute } from './http/openai-compat.route.ts';
import { useOperationLimits } from './http/operation-limits.plugin.ts';
import {
  loadPersistedManifest,
  persistedOperationsOverWebSocket,
  usePersistedOperationsPolicy,
} from './http/persisted-operations.ts';
import { graphiqlEnabled, readinessAnswer, useIntrospectionPolicy } from './http/production-posture.ts';
import {
  currentRequestId,
  keepRequestId,
  operationRequestId,
  requestIdOf,
  withRequestId,
} from './http/request-context.ts';
import { useRequestLimits } from './http/request-limits.plugin.ts';
import { isTrainingCallback, serveTrainingCallback } from './http/training-callback.route.ts';
import { webSocketLimits } from './http/ws-limits.ts';
import { createLoaders } from './loaders.ts';
import { schema } from './schema/index.ts';
import { InvalidTokenError } from './services/auth.service.ts';

type Enveloped = {
  execute: (args: ExecutionArgs) => ReturnType<typeof import('graphql').execute>;
  subscribe: (args: ExecutionArgs) => ReturnType<typeof import('graphql').subscribe>;
  /** The operation's request id (operationRequestId), for its log lines and masked errors. */
  requestId: string;
};

/** Runs Yoga's execute or subscribe under the operation's request id, its stream's steps too. */
async function underRequestId(args: ExecutionArgs, run: 'execute' | 'subscribe') {
  const root = args.rootValue as Enveloped;
  return withRequestId(root.requestId, async () => {
    const result = await root[run](args);
    return Symbol.asyncIterator in result ? keepRequestId(root.requestId, result) : result;
  });
}

/**
 * graphql-ws options that run every operation through Yoga's envelop, as an HTTP request would:
 * its parse and validation caches, plugins, context and error masking apply over WebSocket too.
 */
// biome-ignore lint/suspicious/noExplicitAny: any Yoga server, whatever its contexts
export function graphqlWsThroughYoga(yoga: YogaServerInstance<any, any>) {
  return {
    // the rootValue set in onSubscribe carries Yoga's enveloped execute/subscribe
    execute: (args: ExecutionArgs) => underRequestId(args, 'execute'),
    subscribe: (args: ExecutionArgs) => underRequestId(args, 'subscribe'),
    onSubscribe: (ctx: Context<Record<string, unknown>, Extra>, id: string, params: SubscribePayload) => {
      // each operation on the socket has an id of its own, as each HTTP request has
      const requestId = operationRequestId(ctx.extra.request.headers['x-request-id'], id);
      return withRequestId(requestId, () => prepare(ctx, params, requestId));
    },
  } satisfies Partial<ServerOptions<Record<string, unknown>, Extra>>;

  async function prepare(
    ctx: Context<Record<string, unknown>, Extra>,
    params: SubscribePayload,
    requestId: string,
  ) {
    const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
      ...ctx,
      req: ctx.extra.request,
      socket: ctx.extra.socket,
      params,
      connectionParams: ctx.connectionParams,
    });
    const args = {
      schema,
      operationName: params.operationName,
      document: parse(params.query),
      variableValues: params.variables,
      contextValue: await contextFactory(),
      rootValue: { execute, subscribe, requestId } satisfies Enveloped,
    };
    const errors = validate(args.schema, args.document);
    return errors.length ? errors : args;
  }
}

// Yoga's default maxRequestBodySize, kept for every body but an upload's
const NON_UPLOAD_BODY_MAX_BYTES = 25_000_000;

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A WebSocket or SSE stream opened with an access token lives no longer than the token: `end`
 * runs when it expires, unless the connection closed first.
 */
function endAtExpiry(
  connection: { once(event: 'close', listener: () => void): unknown },
  expiresAt: Date,
  end: () => void,
): void {
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left <= 0) end();
    else timer = setTimeout(check, Math.min(left, MAX_TIMER_MS)).unref();
  };
  check();
  connection.once('close', () => clearTimeout(timer));
}

export interface App {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createApp(services: Services): App {
  const { config, log } = services;

  async function contextFor(authorization: unknown, sse?: ServerResponse): Promise<GraphQLContext> {
    let userId: string;
    try {
      const identity = await services.auth.authenticate(authorization);
      ({ userId } = identity);
      // the client sees the stream end; reconnecting needs a fresh token
      if (sse && identity.expiresAt) endAtExpiry(sse, identity.expiresAt, () => sse.destroy());
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      throw new GraphQLError(error.message, {
        extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
      });
    }
    await services.users.ensure(userId);
    return { userId, services, loaders: createLoaders(services, userId) };
  }

  const persisted =
    config.PERSISTED_OPERATIONS === 'off' ? new Map<string, string>() : loadPersistedManifest();
  const yoga = createYoga<
    { req?: IncomingMessage; res?: ServerResponse; connectionParams?: Record<string, unknown> },
    GraphQLContext
  >({
    schema,
    graphqlEndpoint: '/graphql',
    // Yoga's multipart parser holds whole files in memory and its body limit is one for all
    // requests: useRequestLimits streams uploads, each file limited as it is read (DESIGN §10)
    multipart: false,
    maxRequestBodySize: false,
    cors: corsPolicy(config),
    plugins: [
      // first: a cross-site form is refused before its body is read (DESIGN §10)
      useCsrfPrevention(),
      useIntrospectionPolicy(config),
      ...useOperationLimits(config),
      useOperationMetrics(services.metrics),
      ...usePersistedOperationsPolicy(config.PERSISTED_OPERATIONS, persisted),
      useRequestLimits({
        maxFileBytes: config.UPLOAD_MAX_BYTES,
        maxFiles: config.UPLOAD_MAX_FILES,
        maxBodyBytes: NON_UPLOAD_BODY_MAX_BYTES,
      }),
    ],
    graphiql: graphiqlEnabled(config) && {
      title: 'Digital Twin',
      subscriptionsProtocol: 'WS',
      ...graphiqlExamples({ anonymous: config.AUTH_ALLOW_ANONYMOUS }),
    },
    // GraphiQL's assets are served from the package, not a CDN: it works offline and behind firewalls
    renderGraphiQL,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug(args),
      info: (...args) => log.info(args),
      warn: (...args) => log.warn(args),
      error: (...args) => log.error(args),
    },
    // unexpected errors are masked for clients and logged with context here
    maskedErrors: {
      maskError(error, message) {
        const original = (error as { originalError?: unknown }).originalError;
        // errors raised on purpose (syntax, validation, authentication) pass through unchanged
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
        const requestId = currentRequestId();
        log.error({ err: original ?? error, requestId }, 'unexpected error in a GraphQL operation');
        // the id the response header carries: a user's report of the error finds this log line
        return new GraphQLError(message, requestId ? { extensions: { requestId } } : undefined);
      },
    },
    // over WebSocket the connection parameter, else the upgrade request's header
    context: async ({ request, req, res, connectionParams }) =>
      contextFor(
        connectionParams?.authorization ??
          connectionParams?.Authorization ??
          request?.headers.get('authorization') ??
          req?.headers.authorization,
        request?.headers.get('accept')?.includes('text/event-stream') ? res : undefined,
      ),
  });

  const serveOpenAICompat = createOpenAICompatRoute(services);

  const server = createServer((req, res) => {
    const requestId = requestIdOf(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const started = performance.now();
    res.once('close', () =>
      services.metrics.httpRequest(
        req.method ?? 'GET',
        routeOf(req.url),
        res.statusCode,
        (performance.now() - started) / 1000,
      ),
    );
    return withRequestId(requestId, () => route(req, res));
  });
  // Node closes an idle keep-alive connection after 5 s, a moment a client may just be sending on
  // it (the request then fails with ECONNRESET); load balancers keep idle connections 60 s, so the
  // server outlasts them and the client or the balancer is the side that closes.
  server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS + 1000;

  async function route(req: IncomingMessage, res: ServerResponse) {
    if (req.url === '/metrics') return serveMetrics(config, services.metrics, req, res);
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      return;
    }
    if (req.url === '/export') return serveExport(services, req, res);
    if (isAppRoute(req.url)) return serveApp(req, res);
    if (isTrainingCallback(req.url)) return serveTrainingCallback(services, req, res);
    if (isOpenAICompatRoute(req.url)) return serveOpenAICompat(req, res);
    if (req.url === '/readyz') {
      const status = await services.readiness();
      res
        .writeHead(status.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(readinessAnswer(status, req.headers.authorization, config.READYZ_TOKEN)));
      return;
    }
    return yoga.handle(req, res);
  }

  // graphql-ws over the same port; Yoga's envelop runs, so plugins and masking apply over WS too.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, ...webSocketDefences(config) });
  const wsServer = useServer(
    {
      ...persistedOperationsOverWebSocket(
        webSocketLimits(graphqlWsThroughYoga(yoga), {
          maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
          maxVariablesBytes: config.GRAPHQL_MAX_VARIABLES_BYTES,
        }),
        config.PERSISTED_OPERATIONS,
        persisted,
      ),
      onConnect: async (ctx) => {
        // HTTP hooks do not run for WebSocket: authenticate here
        const params = ctx.connectionParams ?? {};
        try {
          const identity = await services.auth.authenticate(
            params.authorization ?? params.Authorization ?? ctx.extra.request.headers.authorization,
          );
          const { socket } = ctx.extra;
          if (identity.expiresAt)
            endAtExpiry(socket, identity.expiresAt, () => socket.close(4401, 'token expired'));
          return true;
        } catch (error) {
          if (error instanceof InvalidTokenError) return false;
          throw error;
        }
      },
    },
    wss,
  );

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    async close() {
      await wsServer.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

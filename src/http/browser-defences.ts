import type { IncomingMessage } from 'node:http';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { CORSOptions, Plugin } from 'graphql-yoga';
import type { ServerOptions, VerifyClientCallbackAsync } from 'ws';
import type { Config } from '../config.ts';

/**
 * Headers of which one must come with every request a browser could send cross-site without a
 * preflight (a form POST, a GET): Yoga's own name and the one the GraphQL multipart request
 * clients (Apollo's upload link, this project's SDK and tests) already send.
 */
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'graphql-require-preflight'];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function isLoopbackOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * The browser origins allowed to call the API (CORS) and to open its WebSocket: CORS_ORIGINS when
 * set; unset, loopback origins on any port outside production (GraphiQL, a local dashboard) and
 * none in production. An origin is matched exactly, never by Host header, so DNS rebinding does
 * not make a foreign page "same-origin".
 */
export function originAllowList(
  config: Pick<Config, 'CORS_ORIGINS' | 'NODE_ENV'>,
): (origin: string) => boolean {
  if (config.CORS_ORIGINS) {
    const listed = new Set(config.CORS_ORIGINS);
    return (origin) => listed.has(origin);
  }
  if (config.NODE_ENV === 'production') return () => false;
  return isLoopbackOrigin;
}

/**
 * Yoga's `cors` option: allow headers for a listed origin only, naming that origin (never `*`) and
 * without credentials (the API authenticates with bearer tokens, not cookies). An origin that is not
 * listed gets no CORS headers at all (Yoga's array form would answer `null`, which sandboxed pages match).
 */
export function corsPolicy(config: Pick<Config, 'CORS_ORIGINS' | 'NODE_ENV'>) {
  const allowed = originAllowList(config);
  return (request: Request): CORSOptions => {
    const origin = request.headers.get('origin');
    if (!origin || !allowed(origin)) return false;
    return { origin, credentials: false, methods: ['GET', 'POST'], maxAge: 600 };
  };
}

/** Refuses every non-JSON request (form POST, multipart, GET) that lacks one of CSRF_HEADERS. */
export function useCsrfPrevention(): Plugin {
  return useCSRFPrevention({ requestHeaders: CSRF_HEADERS }) as Plugin;
}

/**
 * `ws` server options: a message over WS_MAX_PAYLOAD_BYTES closes the socket with 1009 before it
 * is parsed; an upgrade whose Origin is not allowed gets 403 (a browser always sends Origin, a
 * program may send none and is let through, its token decides).
 */
export function webSocketDefences(
  config: Pick<Config, 'CORS_ORIGINS' | 'NODE_ENV' | 'WS_MAX_PAYLOAD_BYTES'>,
): Pick<ServerOptions, 'maxPayload' | 'verifyClient'> {
  const allowed = originAllowList(config);
  const verifyClient: VerifyClientCallbackAsync<IncomingMessage> = ({ origin }, done) => {
    if (origin === undefined || allowed(origin)) done(true);
    else done(false, 403, 'origin not allowed');
  };
  return { maxPayload: config.WS_MAX_PAYLOAD_BYTES, verifyClient };
}

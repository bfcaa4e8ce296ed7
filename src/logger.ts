import { pino } from 'pino';
import { loadConfig } from './config.ts';
import { currentRequestId } from './http/request-context.ts';

const config = loadConfig();
// JSON for machines; readable lines (pino-pretty) for a person at a terminal in development.
const pretty =
  config.LOG_FORMAT === 'pretty' ||
  (config.LOG_FORMAT === 'auto' && config.NODE_ENV === 'development' && process.stdout.isTTY);

// Secrets never reach the logs: redact the places they could appear.
export const logger = pino({
  level: config.LOG_LEVEL,
  // every line written while serving an HTTP request names it (src/http/request-context.ts)
  mixin: () => {
    const requestId = currentRequestId();
    return requestId ? { requestId } : {};
  },
  ...(pretty
    ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } }
    : {}),
  redact: {
    paths: ['*.authorization', '*.headers.authorization', '*.password', '*.secret', '*.apiKey', '*.token'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;

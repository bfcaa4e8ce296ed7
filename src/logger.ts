import { pino } from 'pino';
import { loadConfig } from './config.ts';

const config = loadConfig();
// JSON for machines; readable lines (pino-pretty) for a person at a terminal in development.
const pretty =
  config.LOG_FORMAT === 'pretty' ||
  (config.LOG_FORMAT === 'auto' && config.NODE_ENV === 'development' && process.stdout.isTTY);

// Secrets never reach the logs: redact the places they could appear.
export const logger = pino({
  level: config.LOG_LEVEL,
  ...(pretty
    ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } } }
    : {}),
  redact: {
    paths: ['*.authorization', '*.headers.authorization', '*.password', '*.secret', '*.apiKey', '*.token'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;

import { pino } from 'pino';
import { loadConfig } from './config.ts';

// Secrets never reach the logs: redact the places they could appear.
export const logger = pino({
  level: loadConfig().LOG_LEVEL,
  redact: {
    paths: ['*.authorization', '*.headers.authorization', '*.password', '*.secret', '*.apiKey', '*.token'],
    censor: '[redacted]',
  },
});

export type Logger = typeof logger;

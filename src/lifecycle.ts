import type { Logger } from './logger.ts';

/**
 * Runs `stop` once on SIGINT/SIGTERM. A second signal more than 2 s later, or a stuck shutdown,
 * exits at once (a Ctrl-C reaches both npm's script and this process, so the first repeat is ignored).
 */
export function onShutdown(log: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stoppingSince = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince) {
      if (Date.now() - stoppingSince > 2000) process.exit(130);
      return;
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown timed out');
      process.exit(1);
    }, timeoutMs + 5000);
    timer.unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

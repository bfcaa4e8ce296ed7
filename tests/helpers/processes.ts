import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Config } from '../../src/config.ts';

// Child processes the tests start themselves (a private redis-server, modal/'s Python apps).

/** A loopback port free right now, for a child process to listen on. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The suite's S3 settings, for a modal/ app that reads and writes the same bucket. */
export function s3EnvOf(config: Config): NodeJS.ProcessEnv {
  return {
    S3_ENDPOINT: config.S3_ENDPOINT ?? '',
    S3_REGION: config.S3_REGION,
    S3_BUCKET: config.S3_BUCKET,
    S3_ACCESS_KEY_ID: config.S3_ACCESS_KEY_ID ?? '',
    S3_SECRET_ACCESS_KEY: config.S3_SECRET_ACCESS_KEY ?? '',
    S3_FORCE_PATH_STYLE: String(config.S3_FORCE_PATH_STYLE),
  };
}

export interface HealthyProcess {
  child: ChildProcess;
  /** The end of its stdout and stderr, for a failure message. */
  log(): string;
}

/**
 * Spawns `command` and resolves once `healthUrl` answers 2xx; throws with the end of its output
 * when it exits first or is not healthy within `timeoutMs`.
 */
export async function spawnHealthy(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions & { healthUrl: string; timeoutMs: number; logChars?: number },
): Promise<HealthyProcess> {
  const { healthUrl, timeoutMs, logChars = 6000, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString('utf8')).slice(-logChars);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  for (const deadline = Date.now() + timeoutMs; ; ) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${output}`);
    const ok = await fetch(healthUrl).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { child, log: () => output };
    await new Promise((r) => setTimeout(r, 200));
  }
}

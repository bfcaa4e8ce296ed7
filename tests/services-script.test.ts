import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './helpers/processes.ts';

// scripts/services.sh against servers of its own (own data folder, own ports): the shared
// services of the suite are never touched. Weaviate and PostgreSQL are left out to keep it fast
// (DATABASE_URL set, VECTOR_BACKEND=embedded); they go through the same stop code.
const root = new URL('..', import.meta.url).pathname;
const minio = join(process.env.TWIN_CACHE_DIR ?? join(homedir(), '.cache/digital-twin'), 'bin/minio');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function sandbox(s3Backend: 'minio' | 's3rver') {
  const dataDir = mkdtempSync(join(tmpdir(), 'twin-services-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['REDIS_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'WEAVIATE_URL', 'TWIN_STARTED_SERVICES'])
    delete env[k];
  Object.assign(env, {
    TWIN_DATA_DIR: dataDir,
    TWIN_PG_PORT: String(await freePort()),
    TWIN_REDIS_PORT: String(await freePort()),
    TWIN_WEAVIATE_PORT: String(await freePort()),
    TWIN_WEAVIATE_GRPC_PORT: String(await freePort()),
    TWIN_S3_PORT: String(await freePort()),
    TWIN_S3_BACKEND: s3Backend,
    DATABASE_URL: 'postgres://twin:twin@127.0.0.1:1/external-in-this-test',
    VECTOR_BACKEND: 'embedded',
  });
  const pidsSeen = new Set<number>();
  cleanups.push(() => {
    for (const pid of pidsSeen) if (running(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  const pidOf = (name: string) => {
    const pid = Number(readFileSync(join(dataDir, `${name}.pid`), 'utf8').trim());
    pidsSeen.add(pid);
    return pid;
  };
  return { dataDir, env, pidOf };
}

/** Runs services.sh in a process group of its own (like a terminal job), resolving once its pipes close. */
function services(
  env: NodeJS.ProcessEnv,
  args: string[],
  whileRunning?: (pgid: number) => void,
): Promise<Run> {
  const child = spawn('bash', ['scripts/services.sh', ...args], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => (run.stderr += d));
  whileRunning?.(child.pid!);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      run.code = code;
      resolve(run);
    }),
  );
}

/** The process exists and is not a zombie (a zombie has exited; kill -0 still succeeds on it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live processes whose command line or working folder lies in dir. */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if ((cmd.includes(dir) || readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) && running(Number(pid)))
        found.push(`${pid}: ${cmd}`);
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

const plain = stripVTControlCharacters;

describe('scripts/services.sh', () => {
  for (const backend of ['minio', 's3rver'] as const) {
    const unavailable = backend === 'minio' && !existsSync(minio);
    if (unavailable) console.warn(`services-script: ${minio} is not built here; the minio case is skipped`);
    it.skipIf(unavailable)(
      `down stops redis and ${backend} without their pid files, and says "not running" only when nothing runs`,
      async () => {
        const { env, pidOf } = await sandbox(backend);
        const up = await services(env, ['up']);
        expect(up.code, up.stderr).toBe(0);
        expect(up.stdout).toMatch(new RegExp(`TWIN_STARTED_SERVICES=.*${backend}`));
        const pids = { redis: pidOf('redis'), [backend]: pidOf(backend) };
        for (const pid of Object.values(pids)) expect(running(pid)).toBe(true);
        // what a run that lost track of them leaves: servers without pid files
        rmSync(join(env.TWIN_DATA_DIR!, 'redis.pid'));
        rmSync(join(env.TWIN_DATA_DIR!, `${backend}.pid`));

        const down = await services(env, ['down']);
        expect(down.code, down.stderr).toBe(0);
        for (const [name, pid] of Object.entries(pids)) {
          expect(running(pid), `${name} (pid ${pid}) still runs after down:\n${down.stderr}`).toBe(false);
        }
        for (const [name, pid] of Object.entries(pids)) {
          expect(plain(down.stderr)).toContain(`${name}: stopped (pid ${pid})`);
        }
        expect(processesIn(env.TWIN_DATA_DIR!)).toEqual([]);

        const again = await services(env, ['down']);
        expect(again.code, again.stderr).toBe(0);
        expect(plain(again.stderr)).not.toContain('stopped');
        for (const name of ['redis', backend, 'postgres', 'weaviate']) {
          expect(plain(again.stderr)).toMatch(new RegExp(`${name}: not running$`, 'm'));
        }
      },
    );
  }

  it('an up interrupted by Ctrl-C stops the servers it had started', async () => {
    const { dataDir, env, pidOf } = await sandbox('s3rver');
    let redis = 0;
    const up = await services(env, ['up'], (pgid) => {
      // Ctrl-C (SIGINT to the process group) once redis runs, while the S3 server starts
      const poll = setInterval(() => {
        if (!existsSync(join(dataDir, 'redis.pid'))) return;
        clearInterval(poll);
        redis = pidOf('redis');
        process.kill(-pgid, 'SIGINT');
      }, 20);
    });
    expect(up.stdout).not.toContain('TWIN_STARTED_SERVICES');
    expect(running(redis), `redis (pid ${redis}) outlived the interrupted up:\n${up.stderr}`).toBe(false);
    expect(plain(up.stderr)).toContain(`redis: stopped (pid ${redis})`);
    expect(processesIn(dataDir)).toEqual([]);
  });
});

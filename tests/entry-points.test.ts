import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { childEnv, testConfig } from './helpers/harness.ts';

// The real entry point as `npm start` runs it: one process with API and workers.
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function start(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const config = testConfig();
  const child = spawn(process.execPath, ['src/main.ts', '--with-workers'], {
    env: childEnv(config, { LOG_LEVEL: 'info', PORT: '0' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    const check = () => {
      const m = /on (http:\/\/localhost:\d+\/graphql)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

describe('src/main.ts', () => {
  it('logs the backend of every port, serves GraphQL, and shuts down gracefully on SIGTERM', async () => {
    const { child, url, output } = await start();
    for (const port of ['database: postgres', 'queue: redis', 'events: redis', 'vectors:', 'objects: s3']) {
      expect(output()).toContain(port);
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(((await res.json()) as { data: { me: { id: string } } }).data.me.id).toBe('1');

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toMatch(/shutting down/);
    await expect(fetch(url)).rejects.toThrow();
  });

  it('refuses to start with invalid configuration, naming every problem', async () => {
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: { ...process.env, PORT: 'nope', AUTH_SECRET: 'short' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/PORT/);
    expect(err).toMatch(/AUTH_SECRET/);
  });
});

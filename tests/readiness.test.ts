import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { freePort } from './helpers/processes.ts';

// This test stops a Redis: it gets a private redis-server, so the rest of the suite is unaffected.

async function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' });
      c.on('exit', (code) => resolve(code === 0));
    });
    if (ok) return proc;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis did not start');
}

type Readiness = { ok: boolean; checks: Record<string, { ok: boolean; error?: string }> };

// the per-dependency detail is for the operator (READYZ_TOKEN); the public gets { ok } only
const OPERATOR_TOKEN = 'readiness-operator-0123456789';

async function readyz(app: TestApp): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(app.url.replace('/graphql', '/readyz'), {
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
  });
  return { status: res.status, body: (await res.json()) as Readiness };
}

async function waitFor(app: TestApp, ok: boolean) {
  for (let i = 0; i < 100; i++) {
    const r = await readyz(app);
    if (r.body.checks.redis?.ok === ok) return r;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis never became ${ok ? 'green' : 'red'}`);
}

let app: TestApp | undefined;
let redis: ChildProcess | undefined;
afterAll(async () => {
  redis?.kill('SIGKILL');
  await app?.close();
});

describe('/readyz', () => {
  it('is green with every dependency up, turns Redis red while it is down, and recovers', async () => {
    const port = await freePort();
    redis = await startRedis(port);
    app = await startTestApp({
      env: { REDIS_URL: `redis://127.0.0.1:${port}`, READYZ_TOKEN: OPERATOR_TOKEN },
    });

    const green = await readyz(app);
    expect(green.status).toBe(200);
    expect(green.body.ok).toBe(true);
    expect(Object.keys(green.body.checks).sort()).toEqual(['objects', 'postgres', 'redis', 'vectors']);

    redis.kill('SIGTERM');
    await new Promise((r) => redis!.once('exit', r));
    const red = await waitFor(app, false);
    expect(red.status).toBe(503);
    expect(red.body.checks.postgres?.ok).toBe(true);
    expect(red.body.checks.redis?.error).toBeTruthy();
    const publicRed = await fetch(app.url.replace('/graphql', '/readyz'));
    expect(publicRed.status).toBe(503);
    expect(await publicRed.json()).toEqual({ ok: false });

    redis = await startRedis(port);
    const back = await waitFor(app, true);
    expect(back.status).toBe(200);
  });
});

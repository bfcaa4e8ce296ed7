import { execFileSync, spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';

// src/logger.ts in a child process, its stdout either a pipe or a real pseudo-terminal
// (util-linux `script`), as a person running `npm start` at a terminal has it.
const root = new URL('..', import.meta.url).pathname;
const program = `
const { logger } = await import('./src/logger.ts');
logger.info({ userId: 'u1', headers: { authorization: 'Bearer secret-token' } }, 'hello from the test');
`;
// production refuses to start with the development secret or anonymous access (config.ts)
const PRODUCTION = {
  NODE_ENV: 'production',
  AUTH_SECRET: 'logger-test-secret-0123456789',
  AUTH_ALLOW_ANONYMOUS: 'false',
};
const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function logOutput(env: Record<string, string>, tty: boolean): Promise<string> {
  const node = [process.execPath, '--input-type=module', '-e', program];
  const quoted = node.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const child = tty
    ? spawn('script', ['-qefc', quoted, '/dev/null'], { cwd: root, env: { ...process.env, ...env } })
    : spawn(node[0]!, node.slice(1), { cwd: root, env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}:\n${out}`))));
  });
}

const jsonLines = (out: string) =>
  out
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { msg: string; headers?: { authorization: string } });

describe.skipIf(!hasScript)('src/logger.ts', () => {
  it('prints readable lines to a terminal in development, without secrets', async () => {
    const out = stripVTControlCharacters(
      await logOutput({ NODE_ENV: 'development', LOG_FORMAT: 'auto' }, true),
    );
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: hello from the test\r?$/m);
    expect(out).toMatch(/userId: "u1"/);
    expect(out).not.toMatch(/^\s*\{/m);
    expect(out).not.toContain('secret-token');
  });

  it('prints JSON lines when stdout is not a terminal', async () => {
    const out = await logOutput({ NODE_ENV: 'development', LOG_FORMAT: 'auto' }, false);
    const [line] = jsonLines(out);
    expect(line?.msg).toBe('hello from the test');
    expect(line?.headers?.authorization).toBe('[redacted]');
  });

  it('LOG_FORMAT=json keeps JSON on a terminal; production is JSON on a terminal too', async () => {
    for (const env of [
      { NODE_ENV: 'development', LOG_FORMAT: 'json' },
      { ...PRODUCTION, LOG_FORMAT: 'auto' },
    ]) {
      const [line] = jsonLines(await logOutput(env, true));
      expect(line?.msg, JSON.stringify(env)).toBe('hello from the test');
    }
  });

  it('LOG_FORMAT=pretty gives readable lines through a pipe', async () => {
    const out = stripVTControlCharacters(await logOutput({ ...PRODUCTION, LOG_FORMAT: 'pretty' }, false));
    expect(out).toMatch(/INFO: hello from the test/);
  });
});

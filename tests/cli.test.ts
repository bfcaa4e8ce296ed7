import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedChunks } from './helpers/chat.ts';
import { removeUsers } from './helpers/cleanup.ts';
import { startTestApp, type TestApp } from './helpers/harness.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';
import { freePort } from './helpers/processes.ts';

// The `twin` CLI (issue 15) run as a person runs it, against the real API and workers of this
// process: as a child process for its --json output, its stored login and its errors, and in a
// real pseudo-terminal (tmux: send-keys, capture-pane) for the progress bars of an upload and an
// interactive chat whose Ctrl-C stops only the reply.

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src', 'cli', 'twin', 'main.ts');

let app: TestApp;
let model: OpenAIStandin;
let home: string;
let apiKey: string;
const userId = `u-${randomUUID()}`;
const otherUserId = `u-${randomUUID()}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a child process (asynchronously: the server it talks to runs in this process). */
function twin(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      {
        cwd: home,
        env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const signedIn = () => ({ TWIN_URL: app.url, TWIN_API_KEY: apiKey });

beforeAll(async () => {
  model = await startOpenAIStandin({});
  app = await startTestApp({
    withWorkers: true,
    env: {
      CHAT_BASE_URL: model.url,
      CHAT_MODEL: 'standin-model',
      CHAT_IDLE_MS: '600000',
      MEMORY_LLM: 'off',
    },
  });
  home = mkdtempSync(join(tmpdir(), 'twin-cli-'));
  await app.services.users.ensure(userId);
  apiKey = (await app.services.apiKeys.create(userId, 'cli test')).secret;
  await seedChunks(app.services, userId, [
    'I sail on the lake every Sunday in a small wooden dinghy called Heron.',
    'My sister Anna taught me to bake sourdough bread when I was twelve.',
  ]);
});

afterAll(async () => {
  if (app) await removeUsers(app.config, app.services.blobs, app.services.orm, [userId, otherUserId]);
  await app?.close();
  await model?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('twin as a child process', () => {
  it('logs in: checks the key with the server and stores URL and key readable by the owner only', async () => {
    const res = await twin(['login', '--url', app.url.replace(/\/graphql$/, ''), '--api-key', apiKey]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`as ${userId}`);
    const path = join(home, 'config', 'twin', 'config.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ url: app.url, apiKey });
    // the stored login serves the next commands, with no environment
    const docs = await twin(['docs', '--json']);
    expect(docs.code).toBe(0);
    expect(JSON.parse(docs.stdout)).toHaveLength(1);
  });

  it('prints docs and search as JSON a script parses, with no escape codes', async () => {
    const docs = await twin(['docs', '--json'], signedIn());
    expect(docs.code).toBe(0);
    const list = JSON.parse(docs.stdout) as { filename: string; status: string; chunkCount: number }[];
    expect(list).toEqual([expect.objectContaining({ status: 'PROCESSED', chunkCount: 2 })]);

    const search = await twin(['search', 'wooden', 'dinghy', '--json'], signedIn());
    expect(search.code).toBe(0);
    const hits = JSON.parse(search.stdout) as { text: string; document: { filename: string } }[];
    expect(hits[0]!.text).toContain('Heron');
    expect(hits[0]!.document.filename).toBe(list[0]!.filename);

    // the human form, piped: plain text
    const plain = await twin(['search', 'sourdough'], signedIn());
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^1\. notes-.*\.md, chunk 1 {2}score /m);
    expect(plain.stdout).toContain('Anna taught me to bake sourdough');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes
    expect(plain.stdout).not.toMatch(/\u001b/);
  });

  it('says in one line on stderr that a bad key is refused, and exits non-zero', async () => {
    for (const args of [['docs'], ['docs', '--json'], ['search', 'sailing']]) {
      const res = await twin(args, { TWIN_URL: app.url, TWIN_API_KEY: 'twin_sk_not-a-real-key' });
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(res.stderr).toMatch(/^twin: the server refused the API key .*twin login/);
    }
    const login = await twin(['login', '--url', app.url, '--api-key', 'twin_sk_not-a-real-key'], {
      XDG_CONFIG_HOME: join(home, 'other-config'),
    });
    expect(login.code).not.toBe(0);
    expect(login.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(() => statSync(join(home, 'other-config', 'twin', 'config.json'))).toThrow();
  });

  it('says so in one line when the server cannot be reached or nobody logged in', async () => {
    const port = await freePort();
    const down = await twin(['docs'], { TWIN_URL: `127.0.0.1:${port}`, TWIN_API_KEY: apiKey });
    expect(down.code).not.toBe(0);
    expect(down.stderr).toBe(`twin: cannot reach http://127.0.0.1:${port}/graphql: ECONNREFUSED\n`);
    const nobody = await twin(['docs'], { XDG_CONFIG_HOME: join(home, 'nobody') });
    expect(nobody.code).not.toBe(0);
    expect(nobody.stderr).toBe('twin: not logged in: run `twin login` (or set TWIN_URL and TWIN_API_KEY)\n');
  });
});

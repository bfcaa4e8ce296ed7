import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatSessionDocument, StartChatDocument } from '../src/sdk/generated/graphql.ts';
import { createTwinClient, MemoryOverviewDocument } from '../src/sdk/node.ts';
import { seedChunks } from './helpers/chat.ts';
import { removeUsers } from './helpers/cleanup.ts';
import type { TestApp } from './helpers/harness.ts';
import { corruptPdf, docx, pdf } from './helpers/ingest-fixtures.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { freePort } from './helpers/processes.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';
import { startTrainerStandin, type TrainerStandin } from './helpers/trainer-standin.ts';
import { postTrainingCallback } from './helpers/training-callbacks.ts';

// The `twin` CLI (issue 15) run as a person runs it, against the real API and workers of this
// process: as a child process for its --json output, its stored login and its errors, and in a
// real pseudo-terminal (tmux: send-keys, capture-pane) for the progress bars of an upload and an
// interactive chat whose Ctrl-C stops only the reply.

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'src', 'cli', 'twin', 'main.ts');

let app: TestApp;
let model: OpenAIStandin;
let trainer: TrainerStandin;
const CALLBACK_SECRET = `cli-callback-${randomUUID()}`;
const CORPUS = join(import.meta.dirname, 'fixtures', 'twin-eval', 'corpus');
let home: string;
let apiKey: string;
// not `u-…`: a vitest run's teardown removes every `u-…` user created since it started, so another
// run finishing on the same machine would delete these mid-test (afterAll removes them instead)
const userId = `cli-${randomUUID()}`;
const otherUserId = `cli-${randomUUID()}`;
const trainerUserId = `cli-${randomUUID()}`;

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
  trainer = await startTrainerStandin();
  ({ model, app } = await startStandinChatApp(
    {},
    {
      MEMORY_LLM: 'off',
      // `twin train --follow`: two short files make memory enough to train on
      MEMORY_DEBOUNCE_MS: '0',
      CHUNK_MIN_TOKENS: '20',
      CHUNK_MAX_TOKENS: '60',
      L2_MIN_CHUNKS: '3',
      L2_MIN_EXAMPLES: '3',
      MODAL_TRAIN_URL: trainer.url,
      MODAL_TOKEN: trainer.token,
      MODAL_CALLBACK_SECRET: CALLBACK_SECRET,
    },
  ));
  home = mkdtempSync(join(tmpdir(), 'twin-cli-'));
  await app.services.users.ensure(userId);
  apiKey = (await app.services.apiKeys.create(userId, 'cli test')).secret;
  await seedChunks(app.services, userId, [
    'I sail on the lake every Sunday in a small wooden dinghy called Heron.',
    'My sister Anna taught me to bake sourdough bread when I was twelve.',
  ]);
});

afterAll(async () => {
  if (app)
    await removeUsers(app.config, app.services.blobs, app.services.orm, [userId, otherUserId, trainerUserId]);
  await app?.close();
  await model?.close();
  await trainer?.close();
  if (home) rmSync(home, { recursive: true, force: true });
  if (HAS_TMUX) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
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

describe('twin keys, memory and train', () => {
  it('creates, lists and revokes keys; the new key works until revoked; another tenant’s key is not revocable', async () => {
    const created = await twin(['keys', 'create', 'laptop', '--json'], signedIn());
    expect(created.code).toBe(0);
    const { secret, apiKey: key } = JSON.parse(created.stdout) as { secret: string; apiKey: { id: string } };
    const listed = JSON.parse((await twin(['keys', '--json'], signedIn())).stdout) as {
      id: string;
      name: string;
    }[];
    expect(listed).toEqual(expect.arrayContaining([expect.objectContaining({ id: key.id, name: 'laptop' })]));
    expect((await twin(['docs', '--json'], { TWIN_URL: app.url, TWIN_API_KEY: secret })).code).toBe(0);

    const revoked = await twin(['keys', 'revoke', key.id], signedIn());
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Revoked ${key.id}`);
    const refused = await twin(['docs'], { TWIN_URL: app.url, TWIN_API_KEY: secret });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^twin: the server refused the API key/);

    await app.services.users.ensure(otherUserId);
    const theirs = await app.services.apiKeys.create(otherUserId, 'not yours');
    const attempt = await twin(['keys', 'revoke', theirs.apiKey.id], signedIn());
    expect(attempt.code).not.toBe(0);
    expect(attempt.stderr).toMatch(new RegExp(`^twin: key ${theirs.apiKey.id}: .*not found.*\\n$`, 'i'));
    expect((await twin(['docs', '--json'], { TWIN_URL: app.url, TWIN_API_KEY: theirs.secret })).code).toBe(0);
  });

  it('shows the memory as JSON and as plain text', async () => {
    const res = await twin(['memory', '--json'], signedIn());
    expect(res.code).toBe(0);
    const memory = JSON.parse(res.stdout) as { status: string; topics: unknown[]; entities: unknown[] };
    expect(memory).toMatchObject({
      status: expect.any(String),
      topics: expect.any(Array),
      entities: expect.any(Array),
    });
    const plain = await twin(['memory'], signedIn());
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^Memory version .*\n[\s\S]*Topics\n[\s\S]*Entities\n/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes
    expect(plain.stdout).not.toMatch(/\u001b/);
  });

  it('says in one line why training cannot start', async () => {
    const res = await twin(['train', '--follow'], signedIn());
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^twin: \S.*\n$/);
  });
});

describe('twin chat as a pipe', () => {
  it("refuses another tenant's session id in one line", async () => {
    const other = app.client(otherUserId);
    const started = await other.request(StartChatDocument, { title: 'not yours' });
    const sessionId = started.data!.startChat.id;
    const res = await twin(['chat', '--session', sessionId], signedIn());
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(new RegExp(`^twin: chat session ${sessionId}: .*not found.*\\n$`, 'i'));
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('answers each line of stdin as one JSON line with --json', async () => {
    model.script = { tokens: ['Heron', ' is', ' my', ' dinghy.'], ttftMs: 0, interTokenMs: 0 };
    const child = spawn(process.execPath, [MAIN, 'chat', '--json'], {
      cwd: home,
      env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), ...signedIn() },
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stdin.end('What is my wooden dinghy called?\n');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const exchange = JSON.parse(lines[0]!) as {
      reply: string;
      cancelled: boolean;
      citations: { text: string }[];
    };
    expect(exchange).toMatchObject({ reply: 'Heron is my dinghy.', cancelled: false });
    expect(exchange.citations.map((c) => c.text).join(' ')).toContain('wooden dinghy called Heron');
  });
});

// A real pseudo-terminal: tmux on a socket of its own, so its server (and the CLI in it) gets this
// test's environment rather than that of a tmux server someone else started.
const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;
if (!HAS_TMUX)
  console.warn('tmux is missing (apt-get install tmux): the terminal tests of the twin CLI are skipped');
const SOCKET = `twin-cli-${process.pid}`;

function tmux(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile('tmux', ['-L', SOCKET, ...args], { env: env ?? process.env }, (error, stdout) =>
      error ? fail(error) : done(stdout),
    );
  });
}

/** Starts `twin <args>` in a 120x40 terminal; the shell prints its exit status and stays. */
async function terminal(name: string, args: string[], login: Record<string, string> = signedIn()) {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, 'config'),
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    ...login,
  };
  const quoted = [process.execPath, MAIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  // -e as well: a tmux server that outlived its last session would hand out its own environment
  const vars = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : ['-e', `${k}=${v}`]));
  await tmux(
    [
      'new-session',
      '-d',
      '-x',
      '120',
      '-y',
      '40',
      '-s',
      name,
      ...vars,
      `${quoted}; echo "[exit $?]"; sleep 600`,
    ],
    env,
  );
  const screen = () => tmux(['capture-pane', '-p', '-t', name]);
  return {
    screen,
    keys: (...keys: string[]) => tmux(['send-keys', '-t', name, ...keys]),
    /** The screen once it matches (capture-pane each 50 ms); the last screen in the error. */
    async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
      const end = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < end) {
        last = await screen();
        if (pattern.test(last)) return last;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`the terminal never showed ${pattern}:\n${last}`);
    },
    close: () => tmux(['kill-session', '-t', name]).catch(() => undefined),
  };
}

describe.skipIf(!HAS_TMUX)('twin in a terminal (tmux)', () => {
  it('logs in interactively without showing the key', async () => {
    const config = join(home, 'typed-config');
    const term = await terminal('login', ['login'], { XDG_CONFIG_HOME: config });
    try {
      await term.waitFor(/Server URL: \[http:\/\/localhost:4000\]\s*$/);
      await term.keys(app.url, 'Enter');
      await term.waitFor(/API key:\s*$/);
      await term.keys(apiKey, 'Enter');
      const screen = await term.waitFor(/\[exit \d+\]/);
      expect(screen).toContain(`Logged in to ${app.url} as ${userId}`);
      expect(screen).toContain('[exit 0]');
      expect(screen).not.toContain(apiKey);
    } finally {
      await term.close();
    }
    expect(JSON.parse(readFileSync(join(config, 'twin', 'config.json'), 'utf8'))).toEqual({
      url: app.url,
      apiKey,
    });
  });

  it('leaves the chat on Ctrl-C at the prompt', async () => {
    const term = await terminal('chat-exit', ['chat']);
    try {
      await term.waitFor(/you>\s*$/);
      await term.keys('C-c');
      const screen = await term.waitFor(/\[exit \d+\]/);
      expect(screen).toMatch(/bye \(twin chat --session \S+ continues this chat\)\n\[exit 0\]/);
    } finally {
      await term.close();
    }
  });

  it('uploads a folder: a bar per file and a total reaching 100 %, and the corrupt PDF named with its reason', async () => {
    const dir = join(home, 'papers');
    mkdirSync(join(dir, 'deeper'), { recursive: true });
    writeFileSync(
      join(dir, 'garden.md'),
      '# Garden\n\nI grow tomatoes and basil on the balcony every summer.\n',
    );
    writeFileSync(
      join(dir, 'deeper', 'letter.txt'),
      'Dear Anna, the bakery on Elm Street finally reopened.\n',
    );
    writeFileSync(join(dir, 'deeper', 'trip.docx'), docx(['We hiked the ridge above the fjord at dawn.']));
    writeFileSync(
      join(dir, 'deeper', 'report.pdf'),
      await pdf(['Quarterly notes about the sailing club budget.']),
    );
    writeFileSync(join(dir, 'broken.pdf'), corruptPdf());
    const term = await terminal('upload', ['upload', dir]);
    try {
      const screen = await term.waitFor(/\[exit \d+\]/, 90_000);
      expect(screen).toMatch(/total .*100% 5\/5 files/);
      expect(screen).toContain('4 of 5 files processed, 1 failed:');
      expect(screen).toMatch(/✗ broken\.pdf: failed: .*PDF/);
      expect(screen).toContain('[exit 1]');
      for (const name of ['garden.md', 'letter.txt', 'trip.docx', 'report.pdf'])
        expect(screen).toMatch(new RegExp(`done +${name.replace('.', '\\.')}`));
    } finally {
      await term.close();
    }
    const listed = JSON.parse((await twin(['docs', '--json'], signedIn())).stdout) as {
      filename: string;
      status: string;
    }[];
    expect(listed.find((d) => d.filename === 'broken.pdf')?.status).toBe('FAILED');
    expect(listed.filter((d) => d.status === 'PROCESSED').map((d) => d.filename)).toEqual(
      expect.arrayContaining(['garden.md', 'letter.txt', 'trip.docx', 'report.pdf']),
    );
  });

  it('chats: tokens show while the reply streams, Ctrl-C stops only the reply, Ctrl-D exits', async () => {
    const words = Array.from({ length: 40 }, (_, i) => ` w${i}`);
    model.script = { tokens: ['Sailing', ...words, ' END.'], ttftMs: 0, interTokenMs: 150 };
    const term = await terminal('chat', ['chat']);
    try {
      await term.waitFor(/you>\s*$/);
      await term.keys('Where do I sail my wooden dinghy?', 'Enter');
      // tokens are on the screen while the model is still writing
      const streaming = await term.waitFor(/twin> Sailing w0 w1/);
      expect(streaming).not.toContain('END.');
      await term.keys('C-c');
      const after = await term.waitFor(/\[reply cancelled\]\n+you>\s*$/);
      expect(after).not.toContain('END.');
      expect(after).not.toContain('[exit');
      const request = model.requests.at(-1)!;
      await expect.poll(() => request.aborted, { timeout: 10_000 }).toBe(true);
      const sessionId = /Chat (\S+)\./.exec(after)![1]!;
      const session = await app.client(userId).request(ChatSessionDocument, { id: sessionId });
      const stored = session.data!.chatSession;
      expect(stored.__typename === 'ChatSession' && stored.messages.at(-1)?.status).toBe('CANCELLED');

      // the prompt works again: a whole reply, its citation as a numbered footnote
      model.script = { tokens: ['It', ' is', ' Heron', ' [1].'], ttftMs: 0, interTokenMs: 0 };
      await term.keys('What is my wooden dinghy called?', 'Enter');
      const answered = await term.waitFor(/twin> It is Heron \[1\]\.\n\[1\] notes-.*wooden dinghy/);
      expect(answered).toMatch(/\n+you>\s*$/);
      await term.keys('C-d');
      await term.waitFor(/\[exit 0\]/);
    } finally {
      await term.close();
    }
  });

  it('follows training: the stage, a step bar with the loss, and how the run ended', async () => {
    await app.services.users.ensure(trainerUserId);
    const key = (await app.services.apiKeys.create(trainerUserId, 'train')).secret;
    const sdk = createTwinClient({ url: app.url, apiKey: key });
    try {
      const uploaded = await sdk.uploadFiles([join(CORPUS, 'about-me.md'), join(CORPUS, 'running-log.txt')]);
      expect(uploaded.map((r) => r.status)).toEqual(['PROCESSED', 'PROCESSED']);
      await expect
        .poll(async () => (await sdk.request(MemoryOverviewDocument, {})).memory.status, {
          timeout: 60_000,
          interval: 100,
        })
        .toBe('READY');
    } finally {
      await sdk.close();
    }
    const term = await terminal('train', ['train', '--follow'], { TWIN_URL: app.url, TWIN_API_KEY: key });
    try {
      await expect
        .poll(() => trainer.submits.some((s) => s.userId === trainerUserId), { timeout: 60_000 })
        .toBe(true);
      const submit = trainer.submits.find((s) => s.userId === trainerUserId)!;
      let seq = 0;
      const callback = async (event: object) => {
        const res = await postTrainingCallback(
          app.url,
          submit.callbackUrl,
          { runId: submit.runId, attempt: 1, seq: ++seq, ...event },
          { secret: CALLBACK_SECRET },
        );
        expect(res.status).toBe(200);
      };
      await callback({ event: 'started', stage: 'starting' });
      await callback({ event: 'progress', stage: 'training', step: 2, totalSteps: 8, loss: 3.9 });
      // the bar on the screen while the run goes on
      await term.waitFor(/training .* step 2\/8 loss 3\.900/);
      await callback({ event: 'progress', stage: 'training', step: 4, totalSteps: 8, loss: 2.5 });
      await term.waitFor(/training .* step 4\/8 loss 2\.500/);
      await callback({ event: 'failed', stage: 'training', error: 'CUDA out of memory', retryable: false });
      const end = await term.waitFor(/\[exit \d+\]/);
      expect(end).toContain(`Run ${submit.runId} failed, final loss 2.500`);
      expect(end).toContain('CUDA out of memory');
      expect(end).toContain('[exit 1]');
    } finally {
      await term.close();
    }
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CreateApiKeyDocument } from '../src/sdk/generated/graphql.ts';
import { member } from './helpers/client.ts';
import type { TestApp } from './helpers/harness.ts';
import { corruptPdf } from './helpers/ingest-fixtures.ts';
import type { OpenAIStandin } from './helpers/openai-standin.ts';
import { startStandinChatApp } from './helpers/standin-app.ts';

// Each script in examples/ run as a user would run it: a child process of plain `node`, importing
// the SDK by its package name, against a real server and workers, with an API key.

const ROOT = join(import.meta.dirname, '..');
const TOKENS = ['You', ' sail', ' on', ' Sunday', ' mornings', ' [1]', '.'];
const run = promisify(execFile);

describe('examples/', () => {
  let app: TestApp;
  let model: OpenAIStandin;

  beforeAll(async () => {
    ({ model, app } = await startStandinChatApp(
      { tokens: TOKENS, ttftMs: 50, interTokenMs: 20 },
      { MEMORY_LLM: 'off' },
    ));
  });
  afterAll(async () => {
    await app?.close();
    await model?.close();
  });

  const apiKey = async () => {
    const created = await app.client().request(CreateApiKeyDocument, { name: 'examples' });
    return member(created.data?.createApiKey, 'CreatedApiKey').secret;
  };
  const runExample = async (name: string, args: string[], key: string) => {
    try {
      const { stdout } = await run(process.execPath, [join(ROOT, 'examples', name), ...args], {
        cwd: ROOT,
        env: { ...process.env, TWIN_URL: app.url, TWIN_API_KEY: key, NODE_NO_WARNINGS: '1' },
        timeout: 60_000,
      });
      return { stdout, code: 0 };
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; code?: number };
      if (typeof e.code !== 'number') throw error;
      return { stdout: `${e.stdout ?? ''}${e.stderr ?? ''}`, code: e.code };
    }
  };

  it('upload-and-ask.ts uploads, reports a corrupt file’s reason and streams a cited reply', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'twin-examples-'));
    const broken = join(dir, 'broken-scan.pdf');
    writeFileSync(broken, corruptPdf());
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const { stdout, code } = await runExample(
      'upload-and-ask.ts',
      [join(ROOT, 'examples', 'notes.md'), broken, 'When do I go sailing?'],
      await apiKey(),
    );
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/✓ notes\.md: \d+ chunks/);
    expect(stdout).toMatch(/✗ broken-scan\.pdf: FAILED \(.*pdf.*\)/i);
    expect(stdout).toContain(`> When do I go sailing?\n${TOKENS.join('')}`);
    expect(stdout).toMatch(/Sources:\n\[1\] notes\.md #\d+/);
    expect(stdout).toContain(`(stop, ${TOKENS.join('').length} characters)`);
  });

  it('follow-training.ts prints a refused start with its reason and exits with 2', async () => {
    const { stdout, code } = await runExample('follow-training.ts', [], await apiKey());
    expect(stdout).toMatch(/^cannot train: TrainerUnavailable: .+/m);
    expect(code).toBe(2);
  });
});

import { type ChildProcess, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwinReplyDocument } from '../src/sdk/generated/graphql.ts';
import { OpenAIChatModel } from '../src/services/adapters/openai/chat-model.openai.ts';
import { ChatModelRejectedError } from '../src/services/ports/chat-model.ts';
import { events, isTerminal, sendMessage, startChat, tokensOf } from './helpers/chat.ts';
import { startTestApp, type TestApp, testConfig } from './helpers/harness.ts';
import { type OpenAIStandin, startOpenAIStandin } from './helpers/openai-standin.ts';
import { freePort, s3EnvOf, spawnHealthy } from './helpers/processes.ts';

// The server's chat path (sendMessage → chat job → twinReply) against the real inference app of
// modal/ (twin_gpu.local: the same FastAPI app Modal serves, under uvicorn on CPU) with a tiny
// random Qwen2 as the base model, and the OpenAI stand-in's Modal mode held to the same answers.

const CACHE_DIR = process.env.TWIN_CACHE_DIR ?? join(homedir(), '.cache', 'digital-twin');
const VENV = join(CACHE_DIR, 'venv-modal');
const PYTHON = join(VENV, 'bin', 'python');
// modal/scripts/setup.sh writes this stamp last: without it the venv is absent or half-installed
const missing = existsSync(join(VENV, '.twin-deps-hash'))
  ? null
  : `no modal/ venv at ${VENV} (bash modal/scripts/setup.sh builds it; npm test does so first)`;
if (missing) console.warn(`modal inference contract skipped: ${missing}`);

const MODAL_DIR = resolve(import.meta.dirname, '..', 'modal');
const TOKEN = 'contract-api-token';
const OLD_BASE_MODEL_NAME = 'Qwen2.5-0.5B-Instruct';

// Built ahead of the server, as production builds the base GGUF at warm-up, not inside a request.
const BUILD_TINY_BASE_GGUF = `
import sys
from pathlib import Path
from twin_gpu.tiny_model import build_tiny_model
from twin_gpu.base_model import ensure_base_gguf
print(ensure_base_gguf(str(build_tiny_model(Path(sys.argv[1]) / "tiny-qwen2"))))
`;
// What the tiny GGUF is made from: building it costs two torch start-ups (~25 s on 2 cores), so a
// file built from the same sources and pins is reused.
const GGUF_INPUTS = [
  'twin_gpu/tiny_model.py',
  'twin_gpu/base_model.py',
  'twin_gpu/gguf_export.py',
  'twin_gpu/convert_entry.py',
  'requirements.lock',
];

async function tinyBaseGguf(env: NodeJS.ProcessEnv, scratch: string): Promise<string> {
  const hash = createHash('sha256');
  for (const f of GGUF_INPUTS) hash.update(readFileSync(join(MODAL_DIR, f)));
  const cached = join(CACHE_DIR, 'contract', `tiny-base-${hash.digest('hex').slice(0, 16)}.q8_0.gguf`);
  if (existsSync(cached)) return cached;
  const built = await promisify(execFile)(PYTHON, ['-c', BUILD_TINY_BASE_GGUF, scratch], {
    env,
    cwd: MODAL_DIR,
  });
  mkdirSync(dirname(cached), { recursive: true });
  // a rename within the cache's file system is atomic: a parallel run never reads half a file
  const part = `${cached}.${process.pid}.part`;
  copyFileSync(built.stdout.trim().split('\n').at(-1)!, part);
  renameSync(part, cached);
  return cached;
}

describe.skipIf(missing !== null)('modal inference contract (real twin_gpu app, tiny model)', () => {
  let dir: string;
  let inference: ChildProcess | undefined;
  let inferenceLog: () => string = () => '';
  let inferenceUrl: string;
  let app: TestApp | undefined;
  let standin: OpenAIStandin | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-modal-contract-'));
    const config = testConfig();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONPATH: MODAL_DIR,
      TWIN_CACHE_DIR: dir,
      TWIN_API_TOKEN: TOKEN,
      TWIN_CALLBACK_SECRET: 'contract-callback-secret',
      TWIN_N_THREADS: '2',
      TWIN_N_CTX: '2048',
      HF_HUB_OFFLINE: '1',
      TOKENIZERS_PARALLELISM: 'false',
      // the same bucket the server writes `tenant/{userId}/…` to: the app looks for manifests there
      ...s3EnvOf(config),
    };
    const gguf = await tinyBaseGguf(env, dir);
    const port = await freePort();
    inferenceUrl = `http://127.0.0.1:${port}`;
    let log: () => string;
    ({ child: inference, log } = await spawnHealthy('twin_gpu.local', PYTHON, ['-m', 'twin_gpu.local'], {
      env: { ...env, TWIN_BASE_GGUF: gguf, TWIN_HOST: '127.0.0.1', TWIN_PORT: String(port) },
      cwd: MODAL_DIR,
      healthUrl: `${inferenceUrl}/health`,
      timeoutMs: 60_000,
      logChars: 4000,
    }));
    inferenceLog = log;
    app = await startTestApp({
      withWorkers: true,
      env: {
        CHAT_BACKEND: 'modal',
        MODAL_INFERENCE_URL: `${inferenceUrl}/v1`,
        MODAL_TOKEN: TOKEN,
        CHAT_MAX_TOKENS: '8',
        CHAT_TEMPERATURE: '0',
      },
    });
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await standin?.close();
    if (inference && inference.exitCode === null) {
      const exited = new Promise((r) => inference!.once('exit', r));
      inference.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('streams a reply from the base model to a user with no promoted model', async () => {
    const client = app!.client();
    const sent = await sendMessage(client, await startChat(client), 'Where do you live?');
    const sub = client.subscribeWs(TwinReplyDocument, { messageId: sent.assistantMessageId });
    const list = events(await sub.until(isTerminal, 60_000));
    sub.close();
    const end = list.at(-1);
    expect(end, inferenceLog()).toMatchObject({ __typename: 'ReplyDone', model: `twin:${client.userId}` });
    expect(tokensOf(list).length).toBeGreaterThan(0);
    expect(
      tokensOf(list)
        .map((t) => t.text)
        .join(''),
    ).not.toBe('');
  });

  it("answers the base model's name with the 404 the stand-in's Modal mode gives too", async () => {
    const oldPath = new OpenAIChatModel({
      kind: 'modal',
      baseURL: `${inferenceUrl}/v1`,
      apiKey: TOKEN,
      model: OLD_BASE_MODEL_NAME,
      timeoutMs: 30_000,
    });
    const request = {
      userId: 'u-contract',
      messages: [{ role: 'user' as const, content: 'Hello?' }],
      question: 'Hello?',
      passages: [],
      maxTokens: 4,
      temperature: 0,
      signal: new AbortController().signal,
    };
    const drain = async () => {
      for await (const chunk of oldPath.stream(request)) expect(chunk.type).toBe('never');
    };
    const rejected = await drain().catch((error: unknown) => error);
    expect(rejected).toBeInstanceOf(ChatModelRejectedError);
    expect((rejected as ChatModelRejectedError).status).toBe(404);

    standin = await startOpenAIStandin({ backend: 'modal', apiToken: TOKEN });
    for (const [model, token] of [
      [OLD_BASE_MODEL_NAME, TOKEN],
      ['it\'s "quoted"\n', TOKEN],
      ['twin:', TOKEN],
      ['twin:u-1', 'wrong-token'],
    ] as const) {
      const ask = (base: string) =>
        fetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ model, messages: request.messages, stream: true, max_tokens: 1 }),
        }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const real = await ask(`${inferenceUrl}/v1`);
      expect(real.status).toBe(token === TOKEN ? 404 : 401);
      expect(await ask(standin.url)).toEqual(real);
    }
  });
});

import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { createTwinClient, MeDocument, TwinRequestError } from '../../../sdk/node.ts';
import { configPath, endpointOf, readStoredLogin, writeStoredLogin } from '../config-store.ts';
import { CliError, createOutput } from '../output.ts';
import type { GlobalOptions } from '../session.ts';

export interface LoginOptions extends GlobalOptions {
  url?: string;
  apiKey?: string;
}

async function ask(question: string, fallback?: string, secret = false): Promise<string> {
  if (!process.stdin.isTTY) throw new CliError(`${question.trim()} is required: pass it as an option`);
  // a secret is typed into an output that writes nothing: the key never shows on the screen
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({
    input: process.stdin,
    output: secret ? muted : process.stdout,
    terminal: true,
  });
  rl.on('SIGINT', () => {
    rl.close();
    process.stdout.write('\n');
    process.exit(130);
  });
  try {
    const prompt = fallback ? `${question} [${fallback}] ` : `${question} `;
    if (secret) process.stdout.write(prompt);
    const answer = await rl.question(secret ? '' : prompt);
    if (secret) process.stdout.write('\n');
    return answer.trim() || fallback || '';
  } finally {
    rl.close();
  }
}

/** `twin login`: checks the URL and key against the server (`me`), then stores them 0600. */
export async function login(options: LoginOptions): Promise<void> {
  const out = createOutput(options);
  const stored = await readStoredLogin();
  const url = endpointOf(
    options.url ?? process.env.TWIN_URL ?? (await ask('Server URL:', stored.url ?? 'http://localhost:4000')),
  );
  const apiKey = (
    options.apiKey ??
    process.env.TWIN_API_KEY ??
    (await ask('API key:', undefined, true))
  ).trim();
  if (!apiKey)
    throw new CliError('an API key is required (create one in the dashboard or with `twin keys create`)');
  const client = createTwinClient({ url, apiKey });
  let userId: string;
  try {
    userId = (await client.request(MeDocument)).me.id;
  } catch (error) {
    if (error instanceof TwinRequestError && error.code === 'UNAUTHENTICATED')
      throw new CliError(`${url} refused that API key: ${error.message}`);
    throw error;
  } finally {
    await client.close();
  }
  const path = configPath();
  await writeStoredLogin({ url, apiKey }, path);
  if (out.json) out.printJson({ url, userId, configPath: path });
  else out.line(`Logged in to ${url} as ${userId} (saved in ${path})`);
}

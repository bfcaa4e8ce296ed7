import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './output.ts';

// Where `twin login` keeps the server URL and API key: $XDG_CONFIG_HOME/twin/config.json (else
// ~/.config/twin/config.json), readable by its owner only. TWIN_URL and TWIN_API_KEY win over it.

export interface StoredLogin {
  url: string;
  apiKey: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.trim() ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'twin', 'config.json');
}

/** The GraphQL endpoint of what a person typed: `localhost:4000`, `https://twin.example/graphql`. */
export function endpointOf(input: string): string {
  const text = input.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliError(`not a URL: ${input}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`the server URL must be http or https, not ${url.protocol}`);
  if (!url.pathname.replace(/\/+$/, '').endsWith('/graphql'))
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/graphql`;
  url.hash = '';
  return url.toString();
}

export async function readStoredLogin(path = configPath()): Promise<Partial<StoredLogin>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredLogin>;
    return {
      ...(typeof parsed.url === 'string' ? { url: parsed.url } : {}),
      ...(typeof parsed.apiKey === 'string' ? { apiKey: parsed.apiKey } : {}),
    };
  } catch {
    throw new CliError(`${path} is not JSON: run twin login again`);
  }
}

/** Written to a temporary file created 0600, then renamed: the key is never readable by others. */
export async function writeStoredLogin(login: StoredLogin, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** The server and key a command uses: TWIN_URL / TWIN_API_KEY, else what `twin login` stored. */
export async function resolveLogin(env: NodeJS.ProcessEnv = process.env): Promise<StoredLogin> {
  const stored = await readStoredLogin(configPath(env));
  const url = env.TWIN_URL?.trim() || stored.url;
  const apiKey = env.TWIN_API_KEY?.trim() || stored.apiKey;
  if (!url || !apiKey)
    throw new CliError('not logged in: run `twin login` (or set TWIN_URL and TWIN_API_KEY)');
  return { url: endpointOf(url), apiKey };
}

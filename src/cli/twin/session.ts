import { createTwinClient, type TwinClient } from '../../sdk/node.ts';
import { resolveLogin } from './config-store.ts';
import { createOutput, type Output } from './output.ts';

// What every command but `login` starts from: the output mode and an SDK client signed in with
// the stored (or environment) URL and API key, closed when the command ends.

export interface GlobalOptions {
  json?: boolean;
}

export interface CommandSession {
  out: Output;
  client: TwinClient;
  url: string;
}

export async function withSession<T>(
  options: GlobalOptions,
  run: (session: CommandSession) => Promise<T>,
): Promise<T> {
  const out = createOutput(options);
  const { url, apiKey } = await resolveLogin();
  const client = createTwinClient({ url, apiKey });
  try {
    return await run({ out, client, url });
  } finally {
    await client.close();
  }
}

import {
  type ApiKeyFieldsFragment,
  ApiKeysDocument,
  CreateApiKeyDocument,
  RevokeApiKeyDocument,
} from '../../../sdk/node.ts';
import { CliError, type Output, oneLine, table } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

const when = (iso: string | null | undefined) => (iso ? String(iso).slice(0, 16).replace('T', ' ') : '–');

function printKeys(out: Output, list: ApiKeyFieldsFragment[]) {
  if (list.length === 0) return out.line('No API keys: `twin keys create <name>` makes one.');
  const rows = table([
    ['ID', 'NAME', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
    ...list.map((k) => [
      k.id,
      oneLine(k.name, 40),
      k.prefix,
      when(k.createdAt),
      when(k.lastUsedAt),
      when(k.revokedAt),
    ]),
  ]);
  out.line(out.bold(rows[0]!));
  for (const row of rows.slice(1)) out.line(row);
}

/** `twin keys`: the caller's API keys (never their secrets). */
export async function keys(options: GlobalOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    const list = (await client.request(ApiKeysDocument)).apiKeys;
    if (out.json) return out.printJson(list);
    printKeys(out, list);
  });
}

/** `twin keys create <name>`: a new key; its secret is printed this once. */
export async function keysCreate(name: string, options: GlobalOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    const created = (await client.request(CreateApiKeyDocument, { name })).createApiKey;
    if (created.__typename !== 'CreatedApiKey') throw new CliError(created.message);
    if (out.json) return out.printJson(created);
    out.line(
      `Created ${created.apiKey.id} (${oneLine(created.apiKey.name, 40)}). Its secret, shown only now:`,
    );
    out.line(created.secret);
  });
}

/** `twin keys revoke <id>`: the key stops working at once. */
export async function keysRevoke(id: string, options: GlobalOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    const revoked = (await client.request(RevokeApiKeyDocument, { id })).revokeApiKey;
    if (revoked.__typename !== 'ApiKey') throw new CliError(`key ${id}: ${revoked.message}`);
    if (out.json) return out.printJson(revoked);
    out.line(`Revoked ${revoked.id} (${oneLine(revoked.name, 40)}).`);
  });
}

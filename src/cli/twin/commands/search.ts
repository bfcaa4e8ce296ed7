import { SearchDocument } from '../../../sdk/generated/graphql.ts';
import { CliError, oneLine, printable, terminalWidth } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

export interface SearchOptions extends GlobalOptions {
  limit?: string;
}

/** `twin search <query>`: the best passages, each with its document, page and score. */
export async function search(query: string, options: SearchOptions): Promise<void> {
  const limit = options.limit === undefined ? 10 : Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit must be a positive whole number');
  await withSession(options, async ({ out, client }) => {
    const res = (await client.request(SearchDocument, { query, limit })).search;
    if (res.__typename === 'RateLimited')
      throw new CliError(`${res.message} (try again in ${res.retryAfterSeconds} s)`);
    if (res.__typename !== 'SearchResults') throw new CliError(res.message);
    if (out.json) return out.printJson(res.data);
    if (res.data.length === 0) return out.line('No passage matches.');
    const width = Math.max(40, terminalWidth() - 6);
    res.data.forEach((hit, i) => {
      const where = [
        printable(hit.document.filename),
        hit.page != null ? `p. ${hit.page}` : null,
        `chunk ${hit.chunkIndex}`,
      ].filter(Boolean);
      out.line(`${out.bold(`${i + 1}.`)} ${where.join(', ')}  ${out.dim(`score ${hit.score.toFixed(3)}`)}`);
      out.line(`   ${oneLine(hit.text, width)}`);
    });
  });
}

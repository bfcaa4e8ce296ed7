import { type DocumentFieldsFragment, DocumentsDocument } from '../../../sdk/generated/graphql.ts';
import { CliError, kib, oneLine, printable, table } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

const PAGE = 100;

/** `twin docs`: every document of the caller's, newest first, failures with their reasons. */
export async function docs(options: GlobalOptions): Promise<void> {
  await withSession(options, async ({ out, client }) => {
    const all: DocumentFieldsFragment[] = [];
    let after: string | null | undefined;
    do {
      const page = (await client.request(DocumentsDocument, { first: PAGE, after })).documents;
      if (page.__typename !== 'QueryDocumentsConnection') throw new CliError(page.message);
      all.push(...page.edges.map((e) => e.node));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);

    if (out.json) return out.printJson(all);
    if (all.length === 0) return out.line('No documents yet: `twin upload <paths…>` adds some.');
    const status = (d: DocumentFieldsFragment) => {
      const word = d.status.toLowerCase();
      return d.status === 'FAILED' ? out.red(word) : d.status === 'PROCESSED' ? out.green(word) : word;
    };
    const rows = table([
      ['ID', 'STATUS', 'CHUNKS', 'SIZE', 'UPLOADED', 'NAME'],
      ...all.map((d) => [
        d.id,
        d.status.toLowerCase(),
        String(d.chunkCount),
        kib(d.bytes),
        String(d.uploadedAt).slice(0, 16).replace('T', ' '),
        printable(d.filename),
      ]),
    ]);
    out.line(out.bold(rows[0]!));
    all.forEach((d, i) => {
      // colour after padding, so escape codes do not shift the columns
      out.line(rows[i + 1]!.replace(d.status.toLowerCase(), status(d)));
      if (d.error) out.line(`  ${out.dim(oneLine(d.error, 100))}`);
    });
    out.line(out.dim(`${all.length} document${all.length === 1 ? '' : 's'}`));
  });
}

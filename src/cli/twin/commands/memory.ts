import { MemoryEntitiesDocument, MemoryOverviewDocument } from '../../../sdk/node.ts';
import { CliError, oneLine, table } from '../output.ts';
import { type GlobalOptions, withSession } from '../session.ts';

export interface MemoryOptions extends GlobalOptions {
  entities?: string;
}

interface TopicNode {
  label: string;
  size: number;
  children?: TopicNode[];
}

/** `twin memory`: the memory's version and status, its topic tree and the most mentioned entities. */
export async function memory(options: MemoryOptions): Promise<void> {
  const first = options.entities === undefined ? 10 : Number(options.entities);
  if (!Number.isInteger(first) || first < 1) throw new CliError('--entities must be a positive whole number');
  await withSession(options, async ({ out, client }) => {
    const overview = (await client.request(MemoryOverviewDocument, { depth: 0 })).memory;
    const found = (await client.request(MemoryEntitiesDocument, { first })).memory.entities;
    if (found.__typename !== 'MemoryEntitiesConnection') throw new CliError(found.message);
    const entities = found.edges.map((e) => e.node).sort((a, b) => b.mentionCount - a.mentionCount);
    if (out.json) return out.printJson({ ...overview, entities });

    out.line(
      `${out.bold('Memory')} version ${overview.version ?? '–'}, ${overview.status.toLowerCase()}` +
        (overview.building
          ? out.dim(` (building version ${overview.building.version}: ${overview.building.stage ?? ''})`)
          : ''),
    );
    if (overview.lastError) out.line(out.red(`last build failed: ${oneLine(overview.lastError, 100)}`));
    if (overview.bio?.secondPerson) out.line(`\n${oneLine(overview.bio.secondPerson, 400)}`);
    out.line(`\n${out.bold('Topics')}`);
    if (overview.topics.length === 0)
      out.line(out.dim('  none yet: upload documents, then wait for the memory build'));
    const tree = (topics: TopicNode[], depth: number) => {
      for (const t of topics) {
        out.line(`${'  '.repeat(depth + 1)}${oneLine(t.label, 60)} ${out.dim(`(${t.size} chunks)`)}`);
        if (t.children?.length) tree(t.children, depth + 1);
      }
    };
    tree(overview.topics, 0);
    out.line(`\n${out.bold('Entities')}`);
    if (entities.length === 0) out.line(out.dim('  none yet'));
    for (const row of table(
      entities.map((e) => [`  ${oneLine(e.name, 40)}`, e.type.toLowerCase(), `${e.mentionCount} mentions`]),
    ))
      out.line(row);
  });
}

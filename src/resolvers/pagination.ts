import { InvalidInputError } from '../services/errors.ts';

/** The Relay arguments of a connection field. */
export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

interface Edge<T> {
  cursor: string;
  node: T;
}

/**
 * A connection that pages forward only: `last`, `before` and a negative `first` are InvalidInput.
 * The service is asked for one row past the page, which says whether another page follows.
 */
export async function forwardConnection<T>(
  field: string,
  args: ConnectionArgs,
  size: { default: number; max: number },
  load: (page: { after?: string; limit: number }) => Promise<Edge<T>[]> | Edge<T>[],
) {
  if (args.last != null || args.before != null) {
    throw new InvalidInputError(`${field} pages forward only: use first and after, not last or before`);
  }
  if (args.first != null && args.first < 0) throw new InvalidInputError('first must not be negative');
  const limit = Math.min(args.first ?? size.default, size.max);
  const after = args.after || undefined;
  const rows = await load({ after, limit: limit + 1 });
  const edges = rows.slice(0, limit);
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: after !== undefined,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

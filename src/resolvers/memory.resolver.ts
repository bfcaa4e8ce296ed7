import type { GraphQLContext } from '../context.ts';
import { InvalidInputError } from '../services/errors.ts';
import type {
  ChunkAssignment,
  ClusterRow,
  EntityRow,
  EntityType,
  PerspectiveSetting,
  RelationRow,
  TopicRow,
} from '../services/ports/memory.ts';
import type { EntityMention, MemoryVersionRow } from '../services/ports/memory-repository.ts';
import { type ConnectionArgs, forwardConnection } from './pagination.ts';

/** A row of the version it was read from: what its fields load next is read from the same one. */
export type InVersion<T> = T & { version: string };
export type MemoryStatus = 'EMPTY' | 'QUEUED' | 'BUILDING' | 'READY' | 'FAILED';
export interface MemoryState {
  current: MemoryVersionRow | null;
  latest: MemoryVersionRow | null;
}

const inVersion = <T extends object>(version: string, rows: readonly (T | null)[]) =>
  rows.flatMap((r) => (r ? [{ ...r, version }] : []));

export async function memory(_root: unknown, _args: unknown, ctx: GraphQLContext): Promise<MemoryState> {
  const [current, latest] = await Promise.all([
    ctx.services.memory.current(ctx.userId),
    ctx.services.memory.latest(ctx.userId),
  ]);
  return { current, latest };
}

export function memoryStatus({ current, latest }: MemoryState): MemoryStatus {
  if (latest?.status === 'queued') return 'QUEUED';
  if (latest?.status === 'building') return 'BUILDING';
  if (latest?.status === 'failed') return 'FAILED';
  return current ? 'READY' : 'EMPTY';
}

export const memoryBio = ({ current }: MemoryState, _args: unknown, ctx: GraphQLContext) =>
  current ? ctx.services.memory.bio(ctx.userId, current.version) : null;

export async function memoryTopics(
  { current }: MemoryState,
  args: { depth?: number | null },
  ctx: GraphQLContext,
) {
  if (!current) return [];
  const all = await ctx.loaders.memoryTopics.load(current.version);
  return inVersion(current.version, args.depth == null ? all : all.filter((t) => t.depth === args.depth));
}

export async function memoryTopic(
  { current }: MemoryState,
  args: { id: string | number },
  ctx: GraphQLContext,
) {
  if (!current) return null;
  const row = await ctx.loaders.memoryTopic.load({ version: current.version, id: String(args.id) });
  return row ? { ...row, version: current.version } : null;
}

export async function memoryCluster(
  { current }: MemoryState,
  args: { id: string | number },
  ctx: GraphQLContext,
) {
  if (!current) return null;
  const row = await ctx.loaders.memoryCluster.load({ version: current.version, id: String(args.id) });
  return row ? { ...row, version: current.version } : null;
}

export async function memoryEntity(
  { current }: MemoryState,
  args: { id: string | number },
  ctx: GraphQLContext,
) {
  if (!current) return null;
  const row = await ctx.loaders.memoryEntity.load({ version: current.version, id: String(args.id) });
  return row ? { ...row, version: current.version } : null;
}

const encodeCursor = (position: unknown[]) => Buffer.from(JSON.stringify(position)).toString('base64url');

function decodeCursor<T extends unknown[]>(cursor: string, valid: (p: unknown[]) => boolean): T {
  try {
    const position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(position) && valid(position)) return position as T;
  } catch {}
  throw new InvalidInputError('after is not a cursor of this list');
}

type EntityArgs = ConnectionArgs & { query?: string | null; type?: EntityType | null };

export const memoryEntities = ({ current }: MemoryState, args: EntityArgs, ctx: GraphQLContext) =>
  forwardConnection('entities', args, { default: 20, max: 100 }, async ({ after, limit }) => {
    const position = after
      ? decodeCursor<[number, string]>(after, ([n, id]) => Number.isInteger(n) && typeof id === 'string')
      : undefined;
    if (!current) return [];
    const filter = { query: args.query || undefined, type: args.type ?? undefined };
    const cursor = position && { mentionCount: position[0], id: position[1] };
    const rows = await ctx.services.memory.entities(ctx.userId, current.version, filter, limit, cursor);
    // relations on this page name entities of this page: those are already loaded
    for (const r of rows) ctx.loaders.memoryEntity.prime({ version: current.version, id: r.id }, r);
    return inVersion(current.version, rows).map((node) => ({
      cursor: encodeCursor([node.mentionCount, node.id]),
      node,
    }));
  });

export const topicParent = async (topic: InVersion<TopicRow>, _args: unknown, ctx: GraphQLContext) => {
  if (!topic.parentId) return null;
  const row = await ctx.loaders.memoryTopic.load({ version: topic.version, id: topic.parentId });
  return row ? { ...row, version: topic.version } : null;
};

export const topicChildren = async (topic: InVersion<TopicRow>, _args: unknown, ctx: GraphQLContext) =>
  inVersion(
    topic.version,
    (await ctx.loaders.memoryTopics.load(topic.version)).filter((t) => t.parentId === topic.topicId),
  );

export const topicClusters = async (topic: InVersion<TopicRow>, _args: unknown, ctx: GraphQLContext) =>
  inVersion(
    topic.version,
    await Promise.all(
      topic.clusterIds.map((id) => ctx.loaders.memoryCluster.load({ version: topic.version, id })),
    ),
  );

export const clusterTopic = async (cluster: InVersion<ClusterRow>, _args: unknown, ctx: GraphQLContext) => {
  const row = await ctx.loaders.memoryTopic.load({ version: cluster.version, id: cluster.topicId });
  return row ? { ...row, version: cluster.version } : null;
};

export const clusterChunks = (cluster: InVersion<ClusterRow>, args: ConnectionArgs, ctx: GraphQLContext) =>
  forwardConnection('chunks', args, { default: 20, max: 200 }, async ({ after, limit }) => {
    const position = after
      ? decodeCursor<[number, string]>(after, ([s, id]) => typeof s === 'number' && typeof id === 'string')
      : undefined;
    const rows = await ctx.services.memory.clusterChunks(
      ctx.userId,
      cluster.version,
      cluster.clusterId,
      limit,
      position && { similarity: position[0], chunkId: position[1] },
    );
    return rows.map((node) => ({ cursor: encodeCursor([node.similarity, node.chunkId]), node }));
  });

/** What a chunk field needs: where the chunk is (an assignment or a mention). */
type ChunkPlace = Pick<ChunkAssignment | EntityMention, 'documentId' | 'chunkIndex'>;

export const chunkDocument = (chunk: ChunkPlace, _args: unknown, ctx: GraphQLContext) =>
  ctx.loaders.document.load(chunk.documentId);

export const chunkText = async (chunk: ChunkPlace, _args: unknown, ctx: GraphQLContext) =>
  (await ctx.services.chunks.loadByIndex(ctx.userId, chunk.documentId, chunk.chunkIndex)) ?? '';

// a document deleted since the build is left out
export const entityDocuments = async (entity: InVersion<EntityRow>, _args: unknown, ctx: GraphQLContext) =>
  (await Promise.all(entity.documentIds.map((id) => ctx.loaders.document.load(id)))).filter(
    (d) => d !== null,
  );

/** Lists under an entity are capped like a page, so a query's cost stays bounded (DESIGN §10). */
export const MAX_ENTITY_LIST = 100;
const listSize = (first: number | null | undefined) => Math.min(Math.max(first ?? 20, 0), MAX_ENTITY_LIST);

export const entityMentions = async (
  entity: InVersion<EntityRow>,
  args: { first?: number | null },
  ctx: GraphQLContext,
) =>
  (await ctx.loaders.entityMentions.load({ version: entity.version, id: entity.id })).slice(
    0,
    listSize(args.first),
  );

export const entityRelations = async (
  entity: InVersion<EntityRow>,
  args: { first?: number | null },
  ctx: GraphQLContext,
) =>
  inVersion(
    entity.version,
    (await ctx.loaders.entityRelations.load({ version: entity.version, id: entity.id })).slice(
      0,
      listSize(args.first),
    ),
  );

export async function relationEntity(
  relation: InVersion<RelationRow>,
  end: 'source' | 'target',
  ctx: GraphQLContext,
): Promise<InVersion<EntityRow>> {
  const row = await ctx.loaders.memoryEntity.load({ version: relation.version, id: relation[end] });
  if (!row) throw new Error(`relation ${relation.id} names entity ${relation[end]}, absent from its version`);
  return { ...row, version: relation.version };
}

export const rebuildMemory = (_root: unknown, args: { full?: boolean | null }, ctx: GraphQLContext) =>
  ctx.services.memory.rebuild(ctx.userId, args.full ?? false);

export const setDocumentPerspective = (
  _root: unknown,
  args: { documentId: string | number; perspective: PerspectiveSetting },
  ctx: GraphQLContext,
) => ctx.services.memory.setPerspective(ctx.userId, String(args.documentId), args.perspective);

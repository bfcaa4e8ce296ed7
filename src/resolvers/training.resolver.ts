import type { GraphQLContext } from '../context.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { abortOnReturn, ReplayGapError } from '../services/ports/event-bus.ts';
import type { Sequenced, TrainingStatusEvent } from '../services/ports/events.ts';
import type { TrainingRunRow } from '../services/ports/training-repository.ts';
import { tenantPrefix } from '../services/tenant-keys.ts';
import { type ConnectionArgs, forwardConnection } from './pagination.ts';
import { spendQuota } from './rate-limits.ts';

export const TRAINING_RUNS_PAGE = { default: 20, max: 50 };

const encodeCursor = (run: TrainingRunRow) =>
  Buffer.from(JSON.stringify([run.createdAt.toISOString(), run.id])).toString('base64url');

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const createdAt = new Date(at);
    if (typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id) && !Number.isNaN(createdAt.getTime()))
      return { createdAt, id };
  } catch {}
  throw new InvalidInputError('after is not a cursor of this list');
}

export const trainingRuns = (_root: unknown, args: ConnectionArgs, ctx: GraphQLContext) =>
  forwardConnection('trainingRuns', args, TRAINING_RUNS_PAGE, async ({ after, limit }) => {
    const position = after ? decodeCursor(after) : undefined;
    const rows = await ctx.services.training.list(ctx.userId, limit, position);
    return rows.map((node) => ({ cursor: encodeCursor(node), node }));
  });

export const trainingRun = (_root: unknown, args: { id: string | number }, ctx: GraphQLContext) =>
  ctx.services.training.get(ctx.userId, String(args.id));

export const currentModel = (_root: unknown, _args: unknown, ctx: GraphQLContext) =>
  ctx.services.training.currentModel(ctx.userId);

export async function startTraining(
  _root: unknown,
  args: { hyperparameters?: unknown; baseModel?: string | null },
  ctx: GraphQLContext,
) {
  // only a run that starts counts: a refused start (bad input, one already running) gives its point back
  await spendQuota(ctx, 'training');
  try {
    return await ctx.services.training.start(ctx.userId, args);
  } catch (error) {
    await ctx.services.rateLimits.refund(ctx.userId, 'training').catch(() => undefined);
    throw error;
  }
}

export const cancelTraining = (_root: unknown, args: { id: string | number }, ctx: GraphQLContext) =>
  ctx.services.training.cancel(ctx.userId, String(args.id));

export const promoteTrainingRun = (
  _root: unknown,
  args: { id: string | number; force?: boolean | null },
  ctx: GraphQLContext,
) => ctx.services.training.promote(ctx.userId, String(args.id), args.force ?? false);

/** A bucket key as the user sees it: relative to their tenant. */
export const tenantRelative = (userId: string, key: string) => {
  const prefix = tenantPrefix(userId);
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
};

export interface ArtifactView {
  name: string;
  key: string;
  bytes: number | null;
}

export function runArtifacts(run: TrainingRunRow): ArtifactView[] {
  const sizes = (run.metrics?.fileBytes ?? run.metrics?.ggufBytes ?? {}) as Record<string, number>;
  return Object.entries(run.artifacts ?? {})
    .map(([name, key]) => ({
      name,
      key: tenantRelative(run.userId, key),
      bytes: typeof sizes[name] === 'number' ? sizes[name] : null,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The run's status events after `afterSeq`, for a run of the caller's; others are NotFound. */
export async function subscribeTrainingStatus(
  args: { runId: string | number; afterSeq?: number | null },
  ctx: GraphQLContext,
): Promise<AsyncIterableIterator<Sequenced<TrainingStatusEvent> | ReplayGapError | NotFoundError>> {
  const runId = String(args.runId);
  const run = await ctx.services.training.get(ctx.userId, runId);
  if (!run) {
    const notFound = new NotFoundError('TrainingRun', runId);
    return (async function* () {
      yield notFound;
    })();
  }
  return abortOnReturn(async function* (signal) {
    try {
      for await (const event of ctx.services.events.subscribe('training', ctx.userId, {
        afterSeq: args.afterSeq ?? undefined,
        signal,
      })) {
        if (event.runId === runId) yield event;
      }
    } catch (error) {
      if (!(error instanceof ReplayGapError)) throw error;
      yield error;
    }
  });
}

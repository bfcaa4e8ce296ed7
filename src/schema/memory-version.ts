import { rebuildMemory } from '../resolvers/memory.resolver.ts';
import { MemoryBuildRunningError } from '../services/memory/memory.service.ts';
import type { MemoryVersionRow } from '../services/ports/memory-repository.ts';
import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';
import { ErrorInterface } from './errors.ts';
import { MemoryStageEnum } from './memory-stage.ts';

const MemoryVersionStatusEnum = builder.enumType('MemoryVersionStatus', {
  description: 'QUEUED and BUILDING are in progress; READY is the version served; SUPERSEDED was.',
  values: upperCaseValues(['queued', 'building', 'ready', 'failed', 'superseded'] as const),
});

const MemoryBuildModeEnum = builder.enumType('MemoryBuildMode', {
  description: 'FULL reclusters everything; INCREMENTAL places changed chunks into the clusters kept.',
  values: upperCaseValues(['full', 'incremental'] as const),
});

type Counts = NonNullable<MemoryVersionRow['counts']>;

const MemoryCountsRef = builder.objectRef<Counts>('MemoryCounts').implement({
  description: 'What a built version holds.',
  fields: (t) => ({
    documents: t.exposeInt('documents', { description: 'Processed documents included.' }),
    chunks: t.exposeInt('chunks', { description: 'Chunks assigned to clusters.' }),
    clusters: t.exposeInt('clusters', { description: 'Leaf clusters.' }),
    topics: t.exposeInt('topics', { description: 'Topics at every depth.' }),
    entities: t.exposeInt('entities', { description: 'Entities after merging.' }),
    relations: t.exposeInt('relations', { description: 'Relations between them.' }),
    outliers: t.exposeInt('outliers', {
      description: 'Chunks far from their cluster (still assigned to it).',
    }),
  }),
});

export const MemoryVersionRef = builder.objectRef<MemoryVersionRow>('MemoryVersion').implement({
  description: 'One build of L1 memory: a snapshot, immutable once READY.',
  fields: (t) => ({
    version: t.exposeString('version', { description: 'Sortable by time, unique per build.' }),
    parent: t.exposeString('parent', {
      nullable: true,
      description: 'The ready version it was built from; null for the first.',
    }),
    mode: t.field({ type: MemoryBuildModeEnum, description: 'How it is built.', resolve: (v) => v.mode }),
    status: t.field({
      type: MemoryVersionStatusEnum,
      description: 'Where it is in its life.',
      resolve: (v) => v.status,
    }),
    stage: t.field({
      type: MemoryStageEnum,
      nullable: true,
      description: 'The step a build has reached; null before it starts.',
      resolve: (v) => v.stage,
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why a FAILED build failed.' }),
    counts: t.field({
      type: MemoryCountsRef,
      nullable: true,
      description: 'Null until the version is built.',
      resolve: (v) => v.counts,
    }),
    createdAt: t.field({
      type: 'DateTime',
      description: 'When the build was asked for.',
      resolve: (v) => v.createdAt,
    }),
    readyAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it became the version served; null until then.',
      resolve: (v) => v.readyAt,
    }),
  }),
});

builder.objectType(MemoryBuildRunningError, {
  name: 'MemoryBuildRunning',
  description: 'A build is already queued or running; its progress is on `memoryProgress`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof MemoryBuildRunningError,
  fields: (t) => ({
    version: t.exposeString('version', { description: 'The version being built.' }),
    stage: t.field({
      type: MemoryStageEnum,
      nullable: true,
      description: 'The step it has reached; null while queued.',
      resolve: (e) => e.stage,
    }),
  }),
});

builder.mutationField('rebuildMemory', (t) =>
  t.field({
    type: MemoryVersionRef,
    description:
      'Queues a build of memory now, without waiting for the debounce after uploads. `full` ' +
      'reclusters everything (cluster ids and labels are kept where clusters match).',
    errors: { types: [MemoryBuildRunningError], directResult: true },
    args: { full: t.arg.boolean({ defaultValue: false }) },
    resolve: rebuildMemory,
  }),
);

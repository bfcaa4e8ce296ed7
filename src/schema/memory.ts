import * as memory from '../resolvers/memory.resolver.ts';
import { InvalidInputError } from '../services/errors.ts';
import { builder } from './builder.ts';
import { EntityRef, EntityTypeEnum } from './entity.ts';
import { MemoryBioRef } from './memory-bio.ts';
import { MemoryClusterRef } from './memory-cluster.ts';
import { MemoryVersionRef } from './memory-version.ts';
import { TopicRef } from './topic.ts';

const MemoryStatusEnum = builder.enumType('MemoryStatus', {
  description:
    'EMPTY: never built. QUEUED, BUILDING: a build is in progress (the previous version is still ' +
    'served). READY: the latest build is served. FAILED: the latest build failed (`lastError`); ' +
    'the previous version, if any, is still served.',
  values: ['EMPTY', 'QUEUED', 'BUILDING', 'READY', 'FAILED'] as const,
});

const MemoryRef = builder.objectRef<memory.MemoryState>('Memory').implement({
  description:
    "The caller's L1 memory: documents grouped into clusters and a hierarchy of topics, the " +
    'people, places and things in them, and a biography. Every field reads the ready version.',
  fields: (t) => ({
    version: t.string({
      nullable: true,
      description: 'The ready version served; null before the first build.',
      resolve: (m) => m.current?.version ?? null,
    }),
    status: t.field({
      type: MemoryStatusEnum,
      description: 'Of the latest build.',
      resolve: memory.memoryStatus,
    }),
    building: t.field({
      type: MemoryVersionRef,
      nullable: true,
      description: 'A queued or running build; null when none.',
      resolve: (m) => (m.latest?.status === 'queued' || m.latest?.status === 'building' ? m.latest : null),
    }),
    lastError: t.string({
      nullable: true,
      description: 'Why the latest build failed; null unless status is FAILED.',
      resolve: (m) => (m.latest?.status === 'failed' ? (m.latest.error ?? 'memory build failed') : null),
    }),
    bio: t.field({
      type: MemoryBioRef,
      nullable: true,
      description: 'Null before the first build.',
      resolve: memory.memoryBio,
    }),
    topics: t.field({
      type: [TopicRef],
      description: 'Topics of one depth (0, the top level, by default; null for all), largest first.',
      args: { depth: t.arg.int({ defaultValue: 0 }) },
      resolve: memory.memoryTopics,
    }),
    topic: t.field({
      type: TopicRef,
      nullable: true,
      description: 'A topic of the ready version; null when it has none by that id.',
      args: { id: t.arg.id({ required: true }) },
      resolve: memory.memoryTopic,
    }),
    cluster: t.field({
      type: MemoryClusterRef,
      nullable: true,
      description: 'A cluster of the ready version; null when it has none by that id.',
      args: { id: t.arg.id({ required: true }) },
      resolve: memory.memoryCluster,
    }),
    entity: t.field({
      type: EntityRef,
      nullable: true,
      description: 'An entity of the ready version; null when it has none by that id.',
      args: { id: t.arg.id({ required: true }) },
      resolve: memory.memoryEntity,
    }),
    entities: t.connection({
      type: EntityRef,
      description:
        'Entities, most mentioned first; `query` matches a part of the name, any case. Pages ' +
        'forward: a bad cursor, `last` or `before` is InvalidInput.',
      errors: { types: [InvalidInputError], directResult: true },
      args: { query: t.arg.string(), type: t.arg({ type: EntityTypeEnum }) },
      resolve: memory.memoryEntities,
    }),
  }),
});

builder.queryField('memory', (t) =>
  t.field({ type: MemoryRef, description: "The caller's L1 memory.", resolve: memory.memory }),
);

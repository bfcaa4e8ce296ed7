import {
  chunkDocument,
  chunkText,
  entityDocuments,
  entityMentions,
  entityRelations,
  type InVersion,
  relationEntity,
} from '../resolvers/memory.resolver.ts';
import { ENTITY_TYPES, type EntityRow, type RelationRow } from '../services/ports/memory.ts';
import type { EntityMention } from '../services/ports/memory-repository.ts';
import { builder } from './builder.ts';
import { DocumentRef } from './document.ts';
import { upperCaseValues } from './enum-values.ts';

export const EntityTypeEnum = builder.enumType('EntityType', {
  description: 'The kinds of entity extracted (GraphRAG types).',
  values: upperCaseValues(ENTITY_TYPES),
});

const EntityMentionRef = builder.objectRef<EntityMention>('EntityMention').implement({
  description: 'A chunk an entity was found in: its evidence.',
  fields: (t) => ({
    documentId: t.exposeID('documentId', { description: 'The document the chunk is from.' }),
    chunkIndex: t.exposeInt('chunkIndex', { description: 'Its 0-based position in the document.' }),
    document: t.field({
      type: DocumentRef,
      nullable: true,
      description: 'Null when the document was deleted after the build.',
      resolve: chunkDocument,
    }),
    text: t.string({ description: 'Empty when the chunk is gone from storage.', resolve: chunkText }),
  }),
});

export const EntityRef = builder.objectRef<InVersion<EntityRow>>('Entity');

EntityRef.implement({
  description: 'A person, organization, place, event, object or concept found in the documents.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Stable across versions for the same type and name.' }),
    name: t.exposeString('title', { description: 'As written, honorifics kept.' }),
    type: t.field({ type: EntityTypeEnum, description: 'What kind of thing it is.', resolve: (e) => e.type }),
    description: t.exposeString('description', {
      description: 'What the documents say it is; may be empty.',
    }),
    mentionCount: t.exposeInt('mentionCount', { description: 'Times it is mentioned across the documents.' }),
    documents: t.field({
      type: [DocumentRef],
      description: 'Documents that mention it (a deleted one is left out).',
      resolve: entityDocuments,
    }),
    mentions: t.field({
      type: [EntityMentionRef],
      description: 'Chunks that mention it, in chunk id order: the first `first` (at most 100).',
      args: { first: t.arg.int({ defaultValue: 20, description: 'How many (0 to 100).' }) },
      resolve: entityMentions,
    }),
    relations: t.field({
      type: [RelationRef],
      description: 'Relations where it is the source or the target: the first `first` (at most 100).',
      args: { first: t.arg.int({ defaultValue: 20, description: 'How many (0 to 100).' }) },
      resolve: entityRelations,
    }),
  }),
});

const RelationRef = builder.objectRef<InVersion<RelationRow>>('Relation');

RelationRef.implement({
  description: 'How two entities are related, as the documents say.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Stable across versions for the same two entities.' }),
    source: t.field({
      type: EntityRef,
      description: 'The entity the description starts from ("Anna" in "Anna is my sister").',
      resolve: (r, _args, ctx) => relationEntity(r, 'source', ctx),
    }),
    target: t.field({
      type: EntityRef,
      description: 'The other entity.',
      resolve: (r, _args, ctx) => relationEntity(r, 'target', ctx),
    }),
    description: t.exposeString('description', {
      description: '"sister", "co-occurs", or the model\'s words.',
    }),
    weight: t.exposeFloat('weight', { description: 'Strength of the relation; higher is stronger.' }),
  }),
});

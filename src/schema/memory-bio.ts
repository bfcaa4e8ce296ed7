import type { Bio } from '../services/ports/memory.ts';
import { builder } from './builder.ts';
import { upperCaseValues } from './enum-values.ts';

const BioSourceEnum = builder.enumType('BioSource', {
  description: 'LLM: written by the chat model from excerpts; OFFLINE: composed from topics and entities.',
  values: upperCaseValues(['llm', 'offline'] as const),
});

const BioTopicRef = builder.objectRef<Bio['topics'][number]>('BioTopic').implement({
  description: 'A top-level topic the bio is drawn from.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The Topic id.' }),
    label: t.exposeString('label', { description: "The topic's label." }),
    share: t.exposeFloat('share', { description: "Share of the person's chunks under this topic, 0..1." }),
  }),
});

export const MemoryBioRef = builder.objectRef<Bio>('MemoryBio').implement({
  description: 'A biography of the person, built from what they wrote; the twin is prompted with it.',
  fields: (t) => ({
    version: t.exposeString('version', { description: 'The memory version it was built from.' }),
    thirdPerson: t.exposeString('thirdPerson', { description: 'About the person ("She writes about…").' }),
    secondPerson: t.exposeString('secondPerson', { description: 'To the person ("You write about…").' }),
    status: t.exposeString('status', { description: 'What the person wrote about in the last 30 days.' }),
    generatedBy: t.field({
      type: BioSourceEnum,
      description: 'Who wrote it.',
      resolve: (b) => b.generatedBy,
    }),
    topics: t.field({
      type: [BioTopicRef],
      description: 'The top-level topics it draws on, largest share first.',
      resolve: (b) => b.topics,
    }),
  }),
});

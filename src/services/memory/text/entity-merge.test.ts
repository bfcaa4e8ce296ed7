import { describe, expect, it } from 'vitest';
import type { ExtractedEntity, ExtractedRelation } from '../../ports/memory.ts';
import { entityIdOf, mergeEntities } from './entity-merge.ts';
import { AUTHOR, CO_OCCURS } from './entity-names.ts';

describe('mergeEntities', () => {
  const person = (name: string, chunkIndexes: number[], mentions = chunkIndexes.length): ExtractedEntity => ({
    name,
    type: 'person',
    chunkIndexes,
    mentions,
  });
  const doc = (
    documentId: string,
    entities: ExtractedEntity[],
    relations: ExtractedRelation[] = [],
    source: 'llm' | 'compromise' = 'compromise',
  ) => ({ documentId, chunkIdOf: (i: number) => `${documentId}:${i}`, entities, relations, source });

  it('merges "Dr. Maria Chen." with "Maria Chen" and a lone "Maria" of the same document', () => {
    const { entities, relations } = mergeEntities([
      doc(
        'd2',
        [person('Dr. Maria Chen.', [0]), person('Maria', [4], 3), person('Anna', [1])],
        [{ source: 'Maria', target: 'Anna', description: CO_OCCURS, weight: 2, chunkIndexes: [4] }],
      ),
      doc('d1', [person('Maria Chen', [2, 3], 2)]),
    ]);
    const chen = entities.find((e) => e.title.includes('Chen'))!;
    expect(chen).toMatchObject({
      id: entityIdOf('person', 'maria chen'),
      type: 'person',
      textUnitIds: ['d1:2', 'd1:3', 'd2:0', 'd2:4'],
      documentIds: ['d1', 'd2'],
      mentionCount: 6,
      source: 'compromise',
      description: 'person mentioned in 4 passages',
    });
    expect(chen.title).toBe('Maria Chen');
    expect(entities.some((e) => e.title === 'Maria')).toBe(false);
    expect(relations).toEqual([
      expect.objectContaining({ description: CO_OCCURS, weight: 2, textUnitIds: ['d2:4'] }),
    ]);
    expect(new Set([relations[0]!.source, relations[0]!.target])).toEqual(
      new Set([chen.id, entityIdOf('person', 'anna')]),
    );
  });

  it('keeps a lone first name apart when two longer names could own it', () => {
    const { entities } = mergeEntities([
      doc('d1', [person('Anna Kowalski', [0]), person('Anna Nowak', [1]), person('Anna', [2])]),
    ]);
    expect(entities.map((e) => e.title).sort()).toEqual(['Anna', 'Anna Kowalski', 'Anna Nowak']);
  });

  it('sums relation weights across documents and keeps the author as the kinship source', () => {
    const kin = (weight: number): ExtractedRelation => ({
      source: AUTHOR,
      target: 'Anna',
      description: 'sister',
      weight,
      chunkIndexes: [0],
    });
    const { relations } = mergeEntities([
      doc('a', [person('Anna', [0])], [kin(1)]),
      doc('b', [person('Anna', [0])], [kin(2), { ...kin(1), target: 'Nobody' }]),
    ]);
    expect(relations).toHaveLength(1);
    expect(relations[0]).toMatchObject({
      source: AUTHOR,
      target: entityIdOf('person', 'anna'),
      description: 'sister',
      weight: 3,
      textUnitIds: ['a:0', 'b:0'],
    });
    expect(relations[0]!.id).toMatch(/^r-[0-9a-f]{16}$/);
  });

  it('keeps the LLM description and source, and ids are deterministic', () => {
    const llm = [
      doc(
        'd1',
        [
          {
            name: 'Lisbon',
            type: 'place' as const,
            chunkIndexes: [1],
            mentions: 1,
            description: 'Capital city',
          },
        ],
        [],
        'llm',
      ),
    ];
    const first = mergeEntities(llm);
    expect(first.entities[0]).toMatchObject({ title: 'Lisbon', description: 'Capital city', source: 'llm' });
    expect(first.entities[0]!.id).toMatch(/^e-[0-9a-f]{16}$/);
    expect(mergeEntities(llm)).toEqual(first);
  });
});

import { describe, expect, it } from 'vitest';
import type { ExtractedEntity, ExtractedRelation } from '../model.ts';
import {
  AUTHOR,
  CO_OCCURS,
  entityIdOf,
  extractEntities,
  mergeEntities,
  normalizeEntityName,
} from './entities.ts';

const byName = (entities: readonly ExtractedEntity[], name: string) => entities.find((e) => e.name === name);

describe('normalizeEntityName', () => {
  it('drops honorifics, possessives, punctuation, case and extra spaces', () => {
    expect(normalizeEntityName('Dr. Maria Chen.')).toBe('maria chen');
    expect(normalizeEntityName('  Maria   Chen ')).toBe('maria chen');
    expect(normalizeEntityName("Prof Maria Chen's")).toBe('maria chen');
    expect(normalizeEntityName('Sir Tom Jones')).toBe('tom jones');
    expect(normalizeEntityName("Mr. O'Brien")).toBe("o'brien");
    expect(normalizeEntityName('Dr.')).toBe('dr');
  });
});

describe('extractEntities', () => {
  const chunks = [
    { index: 0, text: 'The weather was grey all week. We stayed home and read.' },
    { index: 1, text: 'I went sailing with my friend Anna Kowalski in Gdansk. The wind was strong.' },
    { index: 2, text: 'My sister Anna flew to Lisbon. Anna, my sister, loves Lisbon in spring.' },
    {
      index: 3,
      text: 'Dr. Maria Chen. She met Maria Chen at the Bank of America office. Later Maria smiled.',
    },
  ];
  const { entities, relations } = extractEntities(chunks);

  it('finds a person with evidence in the right chunk', () => {
    expect(byName(entities, 'Anna Kowalski')).toMatchObject({
      type: 'person',
      chunkIndexes: [1],
      mentions: 1,
    });
  });

  it('types places and organisations', () => {
    expect(byName(entities, 'Lisbon')).toMatchObject({ type: 'place', chunkIndexes: [2], mentions: 2 });
    expect(byName(entities, 'Gdansk')?.type).toBe('place');
    expect(byName(entities, 'Bank of America')?.type).toBe('organization');
  });

  it('trims punctuation from names and keeps one entity per normalised name', () => {
    const chen = entities.filter((e) => normalizeEntityName(e.name) === 'maria chen');
    expect(chen).toHaveLength(1);
    expect(chen[0]).toMatchObject({ type: 'person', chunkIndexes: [3], mentions: 2 });
    expect(chen[0]!.name).not.toMatch(/\.$/);
    expect(entities.some((e) => /sister|friend/i.test(e.name))).toBe(false);
  });

  it('records kinship from "my sister Anna" and "Anna, my sister" as relations of the author', () => {
    expect(relations).toContainEqual({
      source: AUTHOR,
      target: 'Anna',
      description: 'sister',
      weight: 2,
      chunkIndexes: [2],
    });
    expect(relations).toContainEqual(
      expect.objectContaining({
        source: AUTHOR,
        target: 'Anna Kowalski',
        description: 'friend',
        chunkIndexes: [1],
      }),
    );
  });

  it('links entities that share a sentence', () => {
    expect(relations).toContainEqual({
      source: 'Anna Kowalski',
      target: 'Gdansk',
      description: CO_OCCURS,
      weight: 1,
      chunkIndexes: [1],
    });
    expect(
      relations.some((r) => r.description === CO_OCCURS && r.source === 'Anna' && r.target === 'Lisbon'),
    ).toBe(true);
  });

  it('keeps acronyms whole and does not take a capitalised kin word for a name', () => {
    const { entities } = extractEntities([{ index: 0, text: 'The U.S. Navy came. I said goodbye to Mum.' }]);
    expect(entities.map((e) => e.name)).toEqual(['U.S. Navy']);
  });

  it('finds nothing in text without names', () => {
    expect(extractEntities([{ index: 0, text: 'The weather was grey. I stayed home.' }])).toEqual({
      entities: [],
      relations: [],
    });
  });

  it('is fast enough over ~1 MB of prose', () => {
    const sentences = [
      'I went sailing with my friend Anna Kowalski in Gdansk last summer.',
      'The weather was grey and we stayed inside most of the afternoon.',
      'Dr. Maria Chen told me about her new job at Google in Lisbon.',
      'We cooked dinner together and talked about the garden and the trees.',
      'My brother Tom visited Paris in the spring with his colleagues.',
      'It rained again, so the walk was short and the dog was unhappy.',
      'On Monday Zbigniew Brzezinski met Okonkwo near Tarnobrzeg for coffee.',
    ];
    const chunks: { index: number; text: string }[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 1_000_000; i++) {
      // A name unknown to compromise's lexicon in every chunk: its tagger runs each time (the worst case).
      const unknown = `Okon${i.toString(26).replace(/\d/g, (d) => 'qrstuvwxyz'[Number(d)]!)}`;
      const text = [
        ...Array.from({ length: 5 }, (_, j) => sentences[(i + j * 5) % sentences.length]),
        `We talked with ${unknown} about it.`,
      ].join(' ');
      chunks.push({ index: i, text });
      bytes += text.length;
    }
    const start = performance.now();
    const result = extractEntities(chunks);
    const ms = performance.now() - start;
    console.log(
      `extractEntities: ${chunks.length} chunks (${(bytes / 1e6).toFixed(2)} MB) in ${ms.toFixed(0)} ms, ${result.entities.length} entities`,
    );
    expect(byName(result.entities, 'Anna Kowalski')?.type).toBe('person');
  }, 120_000);
});

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

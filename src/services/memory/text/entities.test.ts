import { describe, expect, it } from 'vitest';
import type { ExtractedEntity } from '../../ports/memory.ts';
import { AUTHOR, CO_OCCURS, extractEntities, normalizeEntityName } from './entities.ts';

const byName = (entities: readonly ExtractedEntity[], name: string) => entities.find((e) => e.name === name);

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

  it('takes no capitalised heading or shouted words for names', () => {
    const { entities } = extractEntities([
      {
        index: 0,
        text: 'How I Learned To Sail\n\nANNA WENT HOME TODAY. We found the Sailing Club of Sopot closed.',
      },
    ]);
    expect(entities.map((e) => [e.name, e.type])).toEqual([
      ['ANNA', 'person'],
      ['Sailing Club of Sopot', 'organization'],
    ]);
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

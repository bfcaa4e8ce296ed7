import { describe, expect, it } from 'vitest';
import { applyCaps, type Kept, recordId, split } from './assemble.ts';
import { ABSTAIN_ANSWER, type Draft, L2_TYPES, type L2Type } from './records.ts';

const draft = (type: L2Type, i: number, sources: string[]): Draft => ({
  type,
  question: `${type} question ${i}?`,
  answer: type === 'abstention' ? ABSTAIN_ANSWER : `answer ${i}`,
  sourceChunkIds: type === 'abstention' ? [] : sources,
  generator: 'template-v1',
  meta: {},
});

/** `n` drafts over `chunks` chunks, types in turn, some citing two chunks. */
function many(n: number, chunks: number): Kept[] {
  return Array.from({ length: n }, (_, i) => {
    const type = L2_TYPES[i % L2_TYPES.length]!;
    const sources = [`d:${i % chunks}`, ...(i % 5 === 0 ? [`d:${(i * 7) % chunks}`] : [])];
    const d = draft(type, i, sources);
    return { id: recordId(d), draft: d };
  });
}

describe('split', () => {
  it('holds out about 10% (20–100), every type, and no chunk that train cites', () => {
    for (const [n, chunks, lo, hi] of [
      [300, 200, 20, 45],
      [1000, 800, 80, 100],
      [2000, 1500, 90, 100],
    ] as const) {
      const { train, eval: held, overlap, evalCap } = split(many(n, chunks), 42);
      expect(held.length, `n=${n}`).toBeGreaterThanOrEqual(lo);
      expect(held.length, `n=${n}`).toBeLessThanOrEqual(hi);
      expect(new Set(held.map((k) => k.draft.type))).toEqual(new Set(L2_TYPES));
      const evalChunks = new Set(held.flatMap((k) => k.draft.sourceChunkIds));
      for (const k of train) for (const id of k.draft.sourceChunkIds) expect(evalChunks.has(id)).toBe(false);
      expect(train.length + held.length + overlap + evalCap).toBe(n);
      expect(overlap).toBeLessThan(held.length);
    }
  });

  it('is seeded: the same seed gives the same split, another seed another', () => {
    const kept = many(300, 200);
    const ids = (seed: number) => split(kept, seed).eval.map((k) => k.id);
    expect(ids(1)).toEqual(ids(1));
    expect(ids(1)).not.toEqual(ids(2));
  });
});

describe('caps', () => {
  it('keeps at most the budget, refusals ≥10%, the others round robin across types', () => {
    const others = Array.from({ length: 3000 }, (_, i) =>
      draft((['preference', 'diversity', 'selfqa'] as const)[i % 3]!, i, [`d:${i}`]),
    );
    const refusals = Array.from({ length: 400 }, (_, i) => draft('abstention', i, []));
    const { drafts, capped } = applyCaps(others, refusals, 1000);
    expect(drafts).toHaveLength(1000);
    expect(capped).toBe(3400 - 1000);
    const count = (t: L2Type) => drafts.filter((d) => d.type === t).length;
    expect(count('abstention') / drafts.length).toBeGreaterThanOrEqual(0.1);
    expect(Math.abs(count('preference') - count('diversity'))).toBeLessThanOrEqual(1);
  });

  it('keeps refusals ≥10% when the pool of them is small, by taking fewer others', () => {
    const others = Array.from({ length: 200 }, (_, i) => draft('diversity', i, [`d:${i}`]));
    const { drafts } = applyCaps(others, [draft('abstention', 0, []), draft('abstention', 1, [])], 1000);
    expect(drafts.filter((d) => d.type === 'abstention').length / drafts.length).toBeGreaterThanOrEqual(0.1);
  });
});

import { describe, expect, it } from 'vitest';
import { WriteBatcher } from './write-batcher.ts';

describe('WriteBatcher', () => {
  it('coalesces concurrent callers of a key and hands each only its own errors', async () => {
    const batches: string[][] = [];
    const batcher = new WriteBatcher<string>(
      async (_key, items) => {
        batches.push(items);
        const errors = new Map<number, Error>();
        items.forEach((item, i) => {
          if (item.endsWith('!')) errors.set(i, new Error(`bad ${item}`));
        });
        return errors;
      },
      { maxBatch: 100, lingerMs: 5, maxInFlight: 1 },
    );
    const [a, b, c] = await Promise.all([
      batcher.write('t1', ['a1', 'a2']),
      batcher.write('t1', ['b1', 'b2!', 'b3']),
      batcher.write('t2', ['c1!']),
    ]);
    expect(batches).toEqual([['a1', 'a2', 'b1', 'b2!', 'b3'], ['c1!']]);
    expect(a.size).toBe(0);
    expect([...b.entries()].map(([i, e]) => [i, e.message])).toEqual([[1, 'bad b2!']]);
    expect([...c.keys()]).toEqual([0]);
  });

  it('splits a long list into full batches and maps errors back to its indexes', async () => {
    const sizes: number[] = [];
    const batcher = new WriteBatcher<number>(
      async (_key, items) => {
        sizes.push(items.length);
        return new Map(items.flatMap((x, i) => (x === 7 ? [[i, new Error('seven')] as const] : [])));
      },
      { maxBatch: 4, lingerMs: 1, maxInFlight: 2 },
    );
    const errors = await batcher.write('k', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect([...errors.keys()]).toEqual([7]);
  });

  it('a failed batch rejects every caller in it and the next batch still goes out', async () => {
    let calls = 0;
    const batcher = new WriteBatcher<string>(
      async () => {
        calls++;
        if (calls === 1) throw new Error('down');
        return new Map();
      },
      { maxBatch: 10, lingerMs: 1, maxInFlight: 1 },
    );
    const first = Promise.allSettled([batcher.write('k', ['x']), batcher.write('k', ['y'])]);
    expect((await first).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(batcher.write('k', ['z'])).resolves.toEqual(new Map());
  });
});

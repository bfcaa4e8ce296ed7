import { describe, expect, it } from 'vitest';
import type { DocumentKey } from '../ports/repositories.ts';
import { reembedStaleDocuments } from './reembed.service.ts';

function staleStore(count: number) {
  const docs: DocumentKey[] = Array.from({ length: count }, (_, i) => ({
    userId: `u${i % 3}`,
    id: String(i).padStart(4, '0'),
  })).sort((a, b) => `${a.userId}/${a.id}`.localeCompare(`${b.userId}/${b.id}`));
  const reprocessed: string[] = [];
  return {
    reprocessed,
    deps: {
      async findStale(model: string, limit: number, after?: DocumentKey) {
        expect(model).toBe('m@8');
        const from = after ? docs.findIndex((d) => d.userId === after.userId && d.id === after.id) + 1 : 0;
        return docs.slice(from, from + limit);
      },
      async reprocess(userId: string, id: string) {
        if (id === '0004') throw new Error('deleted meanwhile');
        reprocessed.push(`${userId}/${id}`);
      },
    },
  };
}

describe('reembedStaleDocuments', () => {
  it('queues every stale document once, page after page, and goes on past one that fails', async () => {
    const store = staleStore(25);
    const failures: DocumentKey[] = [];
    const result = await reembedStaleDocuments(store.deps, 'm@8', {
      pageSize: 7,
      onError: (doc) => failures.push(doc),
    });
    expect(result).toEqual({ queued: 24, failed: 1 });
    expect(failures).toEqual([{ userId: 'u1', id: '0004' }]);
    expect(new Set(store.reprocessed).size).toBe(24);
  });

  it('stops when aborted', async () => {
    const store = staleStore(5);
    await expect(reembedStaleDocuments(store.deps, 'm@8', { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(store.reprocessed).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobStore } from '../src/container.ts';
import { BlobNotFoundError, type BlobStore, BlobTooLargeError } from '../src/services/ports/blob-store.ts';
import { testConfig } from './helpers/harness.ts';

let store: BlobStore;
beforeAll(async () => {
  store = await createBlobStore(testConfig());
});
afterAll(() => store?.close());

describe('blob store on the real S3 server', () => {
  it('puts, gets, lists and deletes under the tenant prefix', async () => {
    const user = `u-${randomUUID()}`;
    await store.put(user, 'raw/d1/a.txt', 'alpha');
    await store.put(user, 'raw/d1/b.txt', Buffer.from('beta'));
    await store.put(user, 'chunks/d1/chunk_0.txt', Readable.from([Buffer.from('gam'), Buffer.from('ma')]));
    expect((await store.get(user, 'chunks/d1/chunk_0.txt')).toString()).toBe('gamma');
    expect((await store.list(user, 'raw/')).sort()).toEqual(['raw/d1/a.txt', 'raw/d1/b.txt']);
    expect(await store.list(`u-${randomUUID()}`, '')).toEqual([]);
    const many = await store.getMany(user, ['raw/d1/b.txt', 'raw/d1/missing.txt']);
    expect(many[0]?.toString()).toBe('beta');
    expect(many[1]).toBeInstanceOf(BlobNotFoundError);
    expect(await store.deletePrefix(user, 'raw/')).toBe(2);
    expect(await store.list(user, '')).toEqual(['chunks/d1/chunk_0.txt']);
    await store.delete(user, ['chunks/d1/chunk_0.txt']);
    expect(await store.list(user, '')).toEqual([]);
  });

  it('reads byte ranges: far apart, next to each other, of a missing object and past the end', async () => {
    const user = `u-${randomUUID()}`;
    // 64 KiB apart: more than one request may merge, so both paths are read
    const body = Buffer.concat([
      Buffer.from('héllo|'),
      Buffer.alloc(64 * 1024, 0x2e),
      Buffer.from('wörld|tail'),
    ]);
    await store.put(user, 'chunks/d1.jsonl', body);
    const far = body.indexOf('wörld');
    const parts = await store.getRanges(user, [
      { key: 'chunks/d1.jsonl', start: far, end: far + Buffer.byteLength('wörld') },
      { key: 'chunks/d1.jsonl', start: 0, end: Buffer.byteLength('héllo') },
      { key: 'chunks/d1.jsonl', start: Buffer.byteLength('héllo|'), end: Buffer.byteLength('héllo|') + 3 },
      { key: 'chunks/gone.jsonl', start: 0, end: 4 },
      { key: 'chunks/d1.jsonl', start: body.length - 4, end: body.length + 10 },
      { key: 'chunks/d1.jsonl', start: body.length + 10, end: body.length + 20 },
    ]);
    expect(parts.slice(0, 3).map((p) => p.toString())).toEqual(['wörld', 'héllo', '...']);
    // gone, shorter than the range, and wholly past the end all read as not found
    expect(parts.slice(3).map((p) => p instanceof BlobNotFoundError)).toEqual([true, true, true]);
    await store.deletePrefix(user, '');
  });

  it('a missing key is a typed not-found', async () => {
    await expect(store.get(`u-${randomUUID()}`, 'raw/nope.txt')).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('cuts off a stream past the size limit and stores nothing', async () => {
    const user = `u-${randomUUID()}`;
    const big = Readable.from(
      (function* () {
        for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 1);
      })(),
    );
    await expect(store.put(user, 'raw/big.bin', big, { maxBytes: 1024 * 1024 })).rejects.toBeInstanceOf(
      BlobTooLargeError,
    );
    expect(await store.list(user, '')).toEqual([]);
  });

  it('refuses keys that would escape the tenant', async () => {
    await expect(store.put('u1', '../u2/raw/x', 'x')).rejects.toThrow(/invalid object key/);
    await expect(store.put('../u2', 'raw/x', 'x')).rejects.toThrow(/invalid user id/);
  });
});

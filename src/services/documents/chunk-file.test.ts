import { describe, expect, it } from 'vitest';
import { chunkPointer, parseChunkPointer } from '../tenant-keys.ts';
import { packChunks, parseChunkLine, readChunkFile } from './chunk-file.ts';

const chunk = (index: number, text: string) => ({
  index,
  text,
  charStart: index * 100,
  charEnd: index * 100 + text.length,
  page: index === 1 ? 2 : null,
  tokens: Math.ceil(text.length / 4),
});

describe('chunk file', () => {
  // multi-byte characters, a newline and quotes inside a chunk: ranges are bytes, not chars
  const chunks = [
    chunk(0, 'Zoë sailed to Kraków.'),
    chunk(1, 'Line one\nline "two" — 1:52:40'),
    chunk(2, '🚲 x'),
  ];

  it('gives each chunk the byte range of exactly its own line', () => {
    const { body, ranges } = packChunks(chunks);
    expect(body.toString('utf8').split('\n')).toHaveLength(chunks.length + 1);
    ranges.forEach((r, i) => {
      expect(parseChunkLine(body.subarray(r.start, r.end))).toEqual(chunks[i]);
    });
    expect([...readChunkFile(body).values()].map((l) => l.chunk)).toEqual(chunks);
    expect([...readChunkFile(body).values()].map(({ start, end }) => ({ start, end }))).toEqual(ranges);
  });

  it('reads bytes that are not one whole line as no chunk', () => {
    const { body, ranges } = packChunks(chunks);
    expect(parseChunkLine(body.subarray(ranges[0]!.start, ranges[1]!.end))).toBeNull();
    expect(parseChunkLine(body.subarray(ranges[1]!.start + 1, ranges[1]!.end))).toBeNull();
    expect(parseChunkLine('{"index":1}')).toBeNull();
  });

  it('pointers round-trip, and a plain key is not a pointer', () => {
    const p = chunkPointer('chunks/d.jsonl', 12, 345);
    expect(p).toBe('chunks/d.jsonl#12-345');
    expect(parseChunkPointer(p)).toEqual({ key: 'chunks/d.jsonl', start: 12, end: 345 });
    expect(parseChunkPointer('chunks/d/chunk_0.txt')).toBeNull();
    expect(parseChunkPointer('chunks/d.jsonl#5-5')).toBeNull();
    expect(parseChunkPointer('chunks/d.jsonl#-1-5')).toBeNull();
  });
});

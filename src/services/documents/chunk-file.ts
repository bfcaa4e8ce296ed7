import type { Chunk } from './ingest/chunker.ts';

// A document's chunk file `chunks/{documentId}.jsonl` (DESIGN §4): every chunk, one JSON line
// each, `{index, text, charStart, charEnd, page, tokens}`, in index order. The only copy of chunk
// text. A chunk's pointer names the file and the bytes of its line (tenant-keys chunkPointer), so
// one chunk is read by one ranged GET and a document is written by one PUT.

export type ChunkLine = Chunk;

/** The file's bytes and, per chunk in order, the byte range [start, end) of its line (no newline). */
export function packChunks(chunks: readonly Chunk[]): {
  body: Buffer;
  ranges: { start: number; end: number }[];
} {
  const lines = chunks.map((c) =>
    JSON.stringify({
      index: c.index,
      text: c.text,
      charStart: c.charStart,
      charEnd: c.charEnd,
      page: c.page,
      tokens: c.tokens,
    }),
  );
  const body = Buffer.from(lines.length ? `${lines.join('\n')}\n` : '', 'utf8');
  const ranges: { start: number; end: number }[] = [];
  let at = 0;
  for (const line of lines) {
    const bytes = Buffer.byteLength(line, 'utf8');
    ranges.push({ start: at, end: at + bytes });
    at += bytes + 1;
  }
  return { body, ranges };
}

/**
 * One line's chunk, or null when the bytes are not one whole chunk line (a pointer taken before
 * its document was rewritten reads part of another line).
 */
export function parseChunkLine(bytes: Buffer | string): ChunkLine | null {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const line = value as Partial<ChunkLine>;
  if (typeof line.text !== 'string' || !Number.isInteger(line.index)) return null;
  return line as ChunkLine;
}

/**
 * The file's lines with the byte range of each, in file order. JSON escapes every newline inside a
 * string, so a newline byte only ever ends a line.
 */
export function splitChunkFile(body: Buffer): { start: number; end: number; bytes: Buffer }[] {
  const out: { start: number; end: number; bytes: Buffer }[] = [];
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(0x0a, start);
    if (end === -1) end = body.length;
    if (end > start) out.push({ start, end, bytes: body.subarray(start, end) });
    start = end + 1;
  }
  return out;
}

/** Every chunk of a chunk file by index, with the byte range of its line. */
export function readChunkFile(body: Buffer): Map<number, { chunk: ChunkLine; start: number; end: number }> {
  const out = new Map<number, { chunk: ChunkLine; start: number; end: number }>();
  for (const line of splitChunkFile(body)) {
    const chunk = parseChunkLine(line.bytes);
    if (chunk) out.set(chunk.index, { chunk, start: line.start, end: line.end });
  }
  return out;
}

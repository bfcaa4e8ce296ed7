import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteDocumentDocument, ReprocessDocumentDocument } from '../src/sdk/generated/graphql.ts';
import { ExtractionError, extractText } from '../src/services/documents/ingest/extract.ts';
import { ArchiveLimitError, safeUnzip } from '../src/services/documents/ingest/safe-zip.ts';
import { documentKeys } from '../src/services/tenant-keys.ts';
import type { TestApp } from './helpers/harness.ts';
import { startTestApp } from './helpers/harness.ts';
import { settled, uploadDocument, uploadFile } from './helpers/ingest.ts';

// Input hygiene (DESIGN §10): names a user sees, bytes that are not text, archives that lie about
// their sizes, and chunk text served from a cache after its document changed.

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ withWorkers: true, env: { CHUNK_MIN_TOKENS: '8', CHUNK_MAX_TOKENS: '120' } });
});
afterAll(async () => {
  await app?.close();
});

const MiB = 1024 * 1024;
const prose =
  'The ferry to Inishmore left at nine, and the harbour master counted passengers on a slate board. ';

/** A zip whose local headers and central directory both claim every entry inflates to 10 bytes. */
function lyingZip(entries: Record<string, Uint8Array>): Uint8Array {
  const zip = zipSync(entries, { level: 9 });
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (let i = 0; i + 4 <= zip.length; i++) {
    const sig = view.getUint32(i, true);
    if (sig === 0x04034b50) view.setUint32(i + 22, 10, true);
    if (sig === 0x02014b50) view.setUint32(i + 24, 10, true);
  }
  return zip;
}

describe('filenames', () => {
  it('stores the displayed name without control or bidi characters, NFC-normalized', async () => {
    const client = app.client();
    const spoof = await uploadDocument(client, 'invoice\u202Egpj.exe.txt', `${prose} spoof`);
    expect(spoof.filename).toBe('invoicegpj.exe.txt');
    const controls = await uploadDocument(client, 'a\u0000b\u0007\u0085\u200F.txt', `${prose} controls`);
    expect(controls.filename).toBe('ab.txt');
    const decomposed = await uploadDocument(client, 'cafe\u0301.txt', `${prose} nfc`);
    expect(decomposed.filename).toBe('caf\u00e9.txt');
    const nothing = await uploadDocument(client, '\u202E\u2066\u0001', `${prose} nothing left`);
    expect(nothing.filename).toBe('upload');
    // the stored row, not only the upload's answer
    const row = await app.services.documents.get(client.userId, spoof.id);
    expect(row.filename).toBe('invoicegpj.exe.txt');
  });
});

describe('bytes claimed as text', () => {
  it('refuses a text-looking file whose bytes past the sniffed head are binary', async () => {
    const client = app.client();
    const text = Buffer.from(prose.repeat(Math.ceil((1.1 * MiB) / prose.length)));
    const binary = Buffer.alloc(64 * 1024, 0);
    const doc = await uploadDocument(client, 'notes.txt', Buffer.concat([text, binary]));
    const done = await settled(client, doc.id);
    expect(done).toMatchObject({ status: 'FAILED', error: 'the file is binary, not text' });
  });

  it('refuses binary behind a UTF-16 byte-order mark at upload, with the typed error', async () => {
    const junk = Buffer.alloc(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 256;
    const result = await uploadFile(
      app.client(),
      'data.txt',
      Buffer.concat([Buffer.from([0xff, 0xfe]), junk]),
    );
    expect(result.__typename).toBe('UnsupportedFileType');
  });

  it('keeps a mostly-UTF-8 file with a stray byte, replacing it; refuses one that is mostly not UTF-8', async () => {
    const stray = Buffer.concat([Buffer.from(prose.repeat(20)), Buffer.from([0xe9]), Buffer.from(' fin.')]);
    const kept = await extractText(stray, 'latin.txt', { maxUncompressedBytes: MiB });
    expect(kept.text).toContain('\uFFFD fin.');
    const legacy = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i % 20 === 0 ? 0xe9 : 0x61)));
    await expect(extractText(legacy, 'legacy.txt', { maxUncompressedBytes: MiB })).rejects.toThrow(
      /not UTF-8 text/,
    );
  });
});

describe('archives that lie about their sizes', () => {
  it('stops inflating an entry once the bytes it actually produced pass the per-entry limit', () => {
    const zip = lyingZip({ 'a.xml': new Uint8Array(3 * MiB), 'b.xml': new Uint8Array(3 * MiB) });
    expect(() => safeUnzip(zip, { maxTotalBytes: 64 * MiB, maxEntryBytes: 2 * MiB, maxRatio: 1e9 })).toThrow(
      /entry a\.xml inflates to more than/,
    );
    expect(() => safeUnzip(zip, { maxTotalBytes: 5 * MiB, maxRatio: 1e9 })).toThrow(ArchiveLimitError);
    expect(safeUnzip(zip, { maxTotalBytes: 64 * MiB, maxRatio: 1e9 }).get('b.xml')?.length).toBe(3 * MiB);
  });

  it('fails a small docx that inflates past the limit fast, as a permanent ingest failure', async () => {
    const bomb = lyingZip({
      '[Content_Types].xml': new TextEncoder().encode('<Types/>'),
      'word/document.xml': new Uint8Array(128 * MiB),
    });
    expect(bomb.length).toBeLessThan(MiB);
    const started = Date.now();
    const error = await extractText(bomb, 'bomb.docx', { maxUncompressedBytes: 16 * MiB }).catch((e) => e);
    expect(error).toBeInstanceOf(ExtractionError);
    expect((error as Error).message).toMatch(/possible zip bomb/);
    expect(Date.now() - started).toBeLessThan(5_000);

    const client = app.client();
    const doc = await uploadDocument(client, 'bomb.docx', bomb);
    const done = await settled(client, doc.id);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatch(/possible zip bomb/);
  });
});

describe('cached chunk text', () => {
  it('is not served after its document is deleted', async () => {
    const client = app.client();
    const doc = await uploadDocument(client, 'ferry.txt', `${prose} The crossing took forty minutes.`);
    await settled(client, doc.id);
    const { chunks, db } = app.services;
    const [key] = await chunks.pointers(client.userId, (await db.documents.get(client.userId, doc.id))!);
    expect(await chunks.load(client.userId, key!)).toContain('ferry to Inishmore');
    expect(await chunks.loadByIndex(client.userId, doc.id, 0)).toContain('ferry to Inishmore');
    const res = await client.request(DeleteDocumentDocument, { id: doc.id });
    expect(res.data?.deleteDocument.__typename).toBe('DeletedDocument');
    expect(await chunks.load(client.userId, key!)).toBeNull();
    expect(await chunks.loadByIndex(client.userId, doc.id, 0)).toBeNull();
  });

  it('serves the new text after a reprocess with changed content', async () => {
    const client = app.client();
    const doc = await uploadDocument(client, 'harbour.txt', `${prose} Version one of the log.`);
    await settled(client, doc.id);
    const { chunks, blobs, db } = app.services;
    const [key] = await chunks.pointers(client.userId, (await db.documents.get(client.userId, doc.id))!);
    expect(await chunks.load(client.userId, key!)).toContain('Version one');
    expect(await chunks.loadByIndex(client.userId, doc.id, 0)).toContain('Version one');
    const [raw] = await blobs.list(client.userId, documentKeys.rawPrefix(doc.id));
    await blobs.put(client.userId, raw!, `${prose} Version two of the log, rewritten.`);
    const res = await client.request(ReprocessDocumentDocument, { id: doc.id });
    expect(res.data?.reprocessDocument.__typename).toBe('Document');
    const done = await settled(client, doc.id);
    expect(done.status).toBe('PROCESSED');
    const [pointer] = await chunks.pointers(client.userId, (await db.documents.get(client.userId, doc.id))!);
    for (const text of [
      await chunks.load(client.userId, pointer!),
      await chunks.loadByIndex(client.userId, doc.id, 0),
    ]) {
      expect(text).toContain('Version two');
      expect(text).not.toContain('Version one');
    }
    // the old pointer never finds the old text again (its bytes now belong to the new file)
    expect((await chunks.load(client.userId, key!)) ?? '').not.toContain('Version one');
  });
});

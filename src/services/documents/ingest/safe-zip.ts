import { Unzip, UnzipInflate, zipSync } from 'fflate';

// fflate is a small, dependency-free, maintained zip/deflate implementation whose streaming
// Unzip lets us count bytes as they inflate, so a zip bomb is stopped before it fills memory.

export class ArchiveLimitError extends Error {
  readonly code = 'ARCHIVE_LIMIT';
}

export class CorruptArchiveError extends Error {
  readonly code = 'CORRUPT_ARCHIVE';
}

export interface SafeUnzipOptions {
  /** Total inflated bytes allowed across the entries read. */
  maxTotalBytes: number;
  /** Inflated bytes allowed for one entry (default: maxTotalBytes). */
  maxEntryBytes?: number;
  /** Largest inflated/compressed ratio for an entry of more than 1 MiB. */
  maxRatio?: number;
  maxEntries?: number;
  /** Only entries whose name passes are inflated (others are skipped, not counted). */
  want?: (name: string) => boolean;
}

// Every limit counts the bytes inflate actually produced: the sizes an entry's local header and
// the central directory declare are never trusted. Compressed input is fed in small steps: deflate
// expands at most ~1032×, so one step can overshoot a cap by at most ~4 MiB before a check stops it.
const STEP = 4 * 1024;

export function safeUnzip(buffer: Uint8Array, options: SafeUnzipOptions): Map<string, Uint8Array> {
  const { maxTotalBytes, maxRatio = 200, maxEntries = 10_000, want = () => true } = options;
  const maxEntryBytes = options.maxEntryBytes ?? maxTotalBytes;
  const files = new Map<string, Uint8Array>();
  let total = 0;
  let entries = 0;
  let failure: Error | undefined;
  const unzip = new Unzip((file) => {
    entries++;
    if (entries > maxEntries)
      failure ??= new ArchiveLimitError(`archive has more than ${maxEntries} entries`);
    if (failure || file.name.endsWith('/') || !want(file.name)) return;
    const parts: Uint8Array[] = [];
    let size = 0;
    file.ondata = (error, data, final) => {
      if (failure) return;
      if (error) {
        failure = new CorruptArchiveError(`cannot inflate ${file.name}: ${error.message}`);
        return;
      }
      size += data.length;
      total += data.length;
      if (size > maxEntryBytes) {
        failure = new ArchiveLimitError(
          `entry ${file.name} inflates to more than ${maxEntryBytes} bytes (possible zip bomb)`,
        );
      } else if (total > maxTotalBytes) {
        failure = new ArchiveLimitError(
          `archive inflates to more than ${maxTotalBytes} bytes (possible zip bomb)`,
        );
      } else if (size > 1024 * 1024 && (file.size ?? 0) > 0 && size / (file.size ?? 1) > maxRatio) {
        failure = new ArchiveLimitError(
          `entry ${file.name} has a compression ratio above ${maxRatio} (possible zip bomb)`,
        );
      }
      if (failure) {
        file.terminate();
        return;
      }
      parts.push(data);
      if (final) files.set(file.name, Buffer.concat(parts));
    };
    try {
      file.start();
    } catch (error) {
      failure = new CorruptArchiveError(`cannot read ${file.name}: ${(error as Error).message}`);
    }
  });
  unzip.register(UnzipInflate);
  try {
    for (let i = 0; i < buffer.length && !failure; i += STEP) {
      unzip.push(buffer.subarray(i, i + STEP), i + STEP >= buffer.length);
    }
  } catch (error) {
    failure ??= new CorruptArchiveError(`corrupt archive: ${(error as Error).message}`);
  }
  if (failure) throw failure;
  if (entries === 0) throw new CorruptArchiveError('archive has no entries');
  return files;
}

/** Re-packs verified entries, so a library that unzips on its own only ever sees checked bytes. */
export function repack(files: Map<string, Uint8Array>): Uint8Array {
  return zipSync(Object.fromEntries(files), { level: 0 });
}

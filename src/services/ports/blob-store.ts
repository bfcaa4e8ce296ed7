import type { Readable } from 'node:stream';

// Port for object storage. Keys passed in are tenant-relative (`raw/{documentId}/a.pdf`); the
// store scopes every key under `tenant/{userId}/` itself, so no caller can escape its tenant.

export class BlobNotFoundError extends Error {
  readonly code = 'BLOB_NOT_FOUND';
  readonly key: string;
  constructor(key: string) {
    super(`object not found: ${key}`);
    this.key = key;
  }
}

export class BlobTooLargeError extends Error {
  readonly code = 'BLOB_TOO_LARGE';
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super(`object exceeds the limit of ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

export interface PutOptions {
  contentType?: string;
  /** Abort the upload (and store nothing) once more than this many bytes arrive. */
  maxBytes?: number;
}

/** Bytes [start, end) of the object at `key`. */
export interface ByteRange {
  key: string;
  start: number;
  end: number;
}

export interface BlobStore {
  put(
    userId: string,
    key: string,
    body: Buffer | string | Readable,
    options?: PutOptions,
  ): Promise<{ bytes: number }>;
  get(userId: string, key: string): Promise<Buffer>;
  /** Copies an object of the tenant's to another key of the same tenant, in the store (no download). */
  copy(userId: string, fromKey: string, toKey: string): Promise<void>;
  getMany(userId: string, keys: readonly string[]): Promise<(Buffer | BlobNotFoundError)[]>;
  /**
   * The bytes of each range, in order (ranged reads; ranges of one object close together may share
   * a request). BlobNotFoundError where the object is gone or shorter than the range.
   */
  getRanges(userId: string, ranges: readonly ByteRange[]): Promise<(Buffer | BlobNotFoundError)[]>;
  list(userId: string, prefix: string): Promise<string[]>;
  delete(userId: string, keys: readonly string[]): Promise<void>;
  deletePrefix(userId: string, prefix: string): Promise<number>;
  ping(): Promise<void>;
  close(): void;
}

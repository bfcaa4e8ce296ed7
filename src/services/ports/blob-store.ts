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

export interface BlobStore {
  put(
    userId: string,
    key: string,
    body: Buffer | string | Readable,
    options?: PutOptions,
  ): Promise<{ bytes: number }>;
  get(userId: string, key: string): Promise<Buffer>;
  getMany(userId: string, keys: readonly string[]): Promise<(Buffer | BlobNotFoundError)[]>;
  list(userId: string, prefix: string): Promise<string[]>;
  delete(userId: string, keys: readonly string[]): Promise<void>;
  deletePrefix(userId: string, prefix: string): Promise<number>;
  ping(): Promise<void>;
  close(): void;
}

import { Readable, Transform } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pMap from 'p-map';
import {
  BlobNotFoundError,
  type BlobStore,
  BlobTooLargeError,
  type ByteRange,
  type PutOptions,
} from '../../ports/blob-store.ts';
import { tenantKey, tenantPrefix } from '../../tenant-keys.ts';

export interface S3BlobStoreOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  /** Keep-alive sockets per process (the SDK's default is 50; ingest issues hundreds of small PUTs at once). */
  maxSockets?: number;
}

/** In-memory bodies up to this size go out as one PutObject; larger ones and streams as a multipart Upload. */
const SINGLE_PUT_MAX_BYTES = 5 * 1024 * 1024;
/** Ranges of one object at most this far apart are read by one request (a request costs more than the bytes). */
const RANGE_MERGE_GAP = 16 * 1024;
/** …as long as that request reads no more than this. */
const RANGE_MERGE_MAX = 1024 * 1024;
const GET_CONCURRENCY = 32;

const isMissing = (error: unknown) => {
  const name = (error as { name?: string; Code?: string }).name;
  return error instanceof NoSuchKey || name === 'NoSuchKey' || name === 'InvalidRange';
};

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.accessKeyId && options.secretAccessKey
        ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
        : {}),
      maxAttempts: 3,
      requestHandler: {
        httpAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 256 },
        httpsAgent: { keepAlive: true, maxSockets: options.maxSockets ?? 256 },
      },
      // checksums only where S3 requires them (as before SDK 3.729): MD5/CRC of every small chunk
      // object costs CPU per PUT, and not every S3-compatible store accepts the new default headers
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Creates the bucket when it is missing (local servers start empty). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
      }
    }
  }

  async put(userId: string, key: string, body: Buffer | string | Readable, options: PutOptions = {}) {
    const Key = tenantKey(userId, key);
    let bytes = 0;
    let source: Buffer | string | Readable = body;
    if (body instanceof Readable) {
      const limit = options.maxBytes ?? Number.POSITIVE_INFINITY;
      // Count while streaming so an oversize upload is cut off before it is stored.
      const counted = body.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            bytes += chunk.length;
            if (bytes > limit) done(new BlobTooLargeError(limit));
            else done(null, chunk);
          },
        }),
      );
      source = counted;
      // the counting stream, not `source`: that is reassigned below, and a body failing after
      // the switch must still end the read the multipart upload waits on
      body.on('error', (e) => counted.destroy(e));
      {
        // a small upload (most documents) goes out as one PutObject; only what is read before
        // the decision is held, at most one multipart part, as lib-storage would buffer anyway
        const it = (source as Transform)[Symbol.asyncIterator]();
        const head: Buffer[] = [];
        let held = 0;
        let ended = false;
        while (held <= SINGLE_PUT_MAX_BYTES) {
          const next = await it.next();
          if (next.done) {
            ended = true;
            break;
          }
          head.push(next.value as Buffer);
          held += (next.value as Buffer).length;
        }
        if (ended) {
          await this.putObject(Key, Buffer.concat(head), options.contentType);
          return { bytes };
        }
        source = Readable.from(
          (async function* () {
            // not `yield* head`: an array iterator has no throw(), so destroying this stream
            // with an error while it delegated would fail with a TypeError instead
            for (const chunk of head) yield chunk;
            for (let next = await it.next(); !next.done; next = await it.next()) yield next.value as Buffer;
          })(),
        );
      }
    } else {
      bytes = Buffer.byteLength(body);
      if (options.maxBytes !== undefined && bytes > options.maxBytes)
        throw new BlobTooLargeError(options.maxBytes);
      if (bytes <= SINGLE_PUT_MAX_BYTES) {
        await this.putObject(Key, body, options.contentType);
        return { bytes };
      }
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: source, ContentType: options.contentType },
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      if (error instanceof BlobTooLargeError) throw error;
      const cause = (error as { cause?: unknown }).cause;
      if (cause instanceof BlobTooLargeError) throw cause;
      throw error;
    }
    return { bytes };
  }

  /** One PutObject: lib-storage's Upload costs a lot of CPU per call for a small in-memory body. */
  private async putObject(Key: string, Body: Buffer | string, ContentType: string | undefined) {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body, ContentType }));
  }

  async get(userId: string, key: string): Promise<Buffer> {
    const Key = tenantKey(userId, key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new BlobNotFoundError(key);
      }
      throw error;
    }
  }

  async copy(userId: string, fromKey: string, toKey: string): Promise<void> {
    const source = tenantKey(userId, fromKey);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: tenantKey(userId, toKey),
          CopySource: `${this.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
        throw new BlobNotFoundError(fromKey);
      }
      throw error;
    }
  }

  async getRanges(userId: string, ranges: readonly ByteRange[]): Promise<(Buffer | BlobNotFoundError)[]> {
    // one request per run of nearby ranges of an object: the chunks of a document a query hits
    // together (neighbours, a page of its chunks) cost one GET
    const order = ranges.map((_, i) => i);
    order.sort((a, b) => {
      const x = ranges[a]!;
      const y = ranges[b]!;
      return x.key < y.key ? -1 : x.key > y.key ? 1 : x.start - y.start;
    });
    const spans: { key: string; start: number; end: number; members: number[] }[] = [];
    for (const i of order) {
      const r = ranges[i]!;
      if (r.end <= r.start || r.start < 0)
        throw new Error(`invalid byte range ${r.start}-${r.end} of ${r.key}`);
      const last = spans.at(-1);
      if (
        last &&
        last.key === r.key &&
        r.start - last.end <= RANGE_MERGE_GAP &&
        Math.max(last.end, r.end) - last.start <= RANGE_MERGE_MAX
      ) {
        last.end = Math.max(last.end, r.end);
        last.members.push(i);
      } else spans.push({ key: r.key, start: r.start, end: r.end, members: [i] });
    }
    const out: (Buffer | BlobNotFoundError)[] = new Array(ranges.length);
    await pMap(
      spans,
      async (span) => {
        const body = await this.getRange(userId, span.key, span.start, span.end);
        for (const i of span.members) {
          const r = ranges[i]!;
          const from = r.start - span.start;
          const to = r.end - span.start;
          // an object rewritten shorter since the pointer was taken: its bytes are not there
          out[i] =
            body instanceof BlobNotFoundError || body.length < to
              ? new BlobNotFoundError(r.key)
              : body.subarray(from, to);
        }
      },
      { concurrency: GET_CONCURRENCY },
    );
    return out;
  }

  /** Bytes [start, end) of one object (fewer when it is shorter), or not found. */
  private async getRange(userId: string, key: string, start: number, end: number) {
    const Key = tenantKey(userId, key);
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=${start}-${end - 1}` }),
      );
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (error) {
      if (isMissing(error)) return new BlobNotFoundError(key);
      throw error;
    }
  }

  async getMany(userId: string, keys: readonly string[]): Promise<(Buffer | BlobNotFoundError)[]> {
    // S3 has no multi-get: issue the GETs concurrently, bounded so a large page cannot exhaust sockets.
    return pMap(
      keys,
      (key) =>
        this.get(userId, key).catch((error: unknown) => {
          if (error instanceof BlobNotFoundError) return error;
          throw error;
        }),
      { concurrency: GET_CONCURRENCY },
    );
  }

  async list(userId: string, prefix: string): Promise<string[]> {
    const base = tenantPrefix(userId);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key.slice(base.length));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async delete(userId: string, keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000).map((k) => ({ Key: tenantKey(userId, k) }));
      const out = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      if (out.Errors?.length) {
        throw new Error(`failed to delete ${out.Errors.length} objects: ${out.Errors[0]?.Message ?? ''}`);
      }
    }
  }

  async deletePrefix(userId: string, prefix: string): Promise<number> {
    const keys = await this.list(userId, prefix);
    await this.delete(userId, keys);
    return keys.length;
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  close(): void {
    this.client.destroy();
  }
}

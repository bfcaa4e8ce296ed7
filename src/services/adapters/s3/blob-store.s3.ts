import { Readable, Transform } from 'node:stream';
import {
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

  async getMany(userId: string, keys: readonly string[]): Promise<(Buffer | BlobNotFoundError)[]> {
    // S3 has no multi-get: issue the GETs concurrently, bounded so a large page cannot exhaust sockets.
    return pMap(
      keys,
      (key) =>
        this.get(userId, key).catch((error: unknown) => {
          if (error instanceof BlobNotFoundError) return error;
          throw error;
        }),
      { concurrency: 32 },
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

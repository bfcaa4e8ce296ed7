import type { Readable } from 'node:stream';
import { GraphQLError } from 'graphql';
import { BlobTooLargeError } from '../services/ports/blob-store.ts';

/** What a StreamedFile asks of the request it belongs to. */
export interface FileSource {
  /** The operation is about to read `file`: parts before it that nobody reads must not block it. */
  want(file: StreamedFile): void;
  /** Whether another file of the request still waits for its part (so this one's must be skipped). */
  othersPending(file: StreamedFile): boolean;
  /** Nothing more of the body is needed: stop reading it (the connection closes after the answer). */
  stopReading(): void;
}

/** A file whose problem is the client's (missing, skipped, read twice): passes Yoga's masking. */
export const uploadError = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_REQUEST' } });

// Bytes held between the request and the reader of a file; the rest waits in the socket.
const QUEUE_BYTES = 256 * 1024;

/**
 * One file of a multipart request as the File scalar hands it to a resolver: File-shaped (`name`,
 * `type`, `stream()`), its bytes read from the request only as its stream is read. The operation
 * starts before the file's part arrives: `ready()` resolves once it has, and only then are `name`
 * and `type` known. Past `maxBytes` the stream fails with BlobTooLargeError, which the documents
 * service turns into FileTooLarge, and the rest of the part is discarded unread.
 */
export class StreamedFile {
  readonly field: string;
  #name = '';
  #type = '';
  #part: Readable | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #state: 'waiting' | 'arrived' | 'reading' | 'ended' | 'failed' = 'waiting';
  #wanted = false;
  #failure: unknown;
  readonly #arrival = Promise.withResolvers<void>();
  readonly #source: FileSource;
  readonly #maxBytes: number;

  constructor(source: FileSource, field: string, maxBytes: number) {
    this.#source = source;
    this.field = field;
    this.#maxBytes = maxBytes;
    // a file the operation never asks for may fail with nobody listening
    this.#arrival.promise.catch(() => undefined);
  }

  get name(): string {
    return this.#name;
  }
  get type(): string {
    return this.#type;
  }
  /** Unknown until the whole part is read; the documents service counts the bytes itself. */
  get size(): number | undefined {
    return undefined;
  }
  /** The operation waits for this file's part: a part before it that nobody reads is in its way. */
  get awaited(): boolean {
    return this.#wanted && this.#state === 'waiting';
  }
  /** Its part arrived and waits, unread, holding up the parts after it. */
  get held(): boolean {
    return this.#state === 'arrived' && !this.#wanted;
  }
  get pending(): boolean {
    return this.#state === 'waiting' || this.#state === 'arrived';
  }

  ready(): Promise<void> {
    this.#wanted = true;
    this.#source.want(this);
    return this.#arrival.promise;
  }

  stream(): ReadableStream<Uint8Array> {
    if (this.#controller || this.#state === 'ended') {
      return erroredStream(
        uploadError(`file "${this.field}" was already read: map each file to one variable`),
      );
    }
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          this.#part?.resume();
        },
        cancel: () => {
          this.#state = 'ended';
          this.#discard();
        },
      },
      { highWaterMark: QUEUE_BYTES, size: (chunk) => chunk.byteLength },
    );
    if (this.#state === 'failed') this.#controller!.error(this.#failure);
    this.#wanted = true;
    this.#source.want(this);
    if (this.#state === 'arrived') this.#pump();
    return stream;
  }

  /** The file's part begins; `part` is paused until someone reads it. */
  arrive(part: Readable, filename: string, mimeType: string): void {
    if (this.#state !== 'waiting') {
      discard(part);
      return;
    }
    part.on('error', (error) => this.fail(error));
    // a limit smaller than the parser's read-ahead can be passed before anyone reads the part
    part.once('limit', () => this.fail(new BlobTooLargeError(this.#maxBytes)));
    this.#part = part;
    this.#name = filename;
    this.#type = mimeType;
    this.#state = 'arrived';
    this.#arrival.resolve();
    if (this.#controller) this.#pump();
  }

  /** Ends the file with `error` for whoever reads it, and discards what is left of its part. */
  fail(error: unknown): void {
    if (this.#state === 'ended' || this.#state === 'failed') return;
    this.#state = 'failed';
    this.#failure = error;
    this.#arrival.reject(error);
    try {
      this.#controller?.error(error);
    } catch {
      // already closed by its reader
    }
    this.#discard();
  }

  #pump(): void {
    const part = this.#part!;
    const controller = this.#controller!;
    this.#state = 'reading';
    part.on('data', (chunk: Buffer) => {
      controller.enqueue(chunk);
      if ((controller.desiredSize ?? 0) <= 0) part.pause();
    });
    part.once('end', () => {
      if (this.#state !== 'reading') return;
      this.#state = 'ended';
      controller.close();
    });
  }

  // The rest of a failed part is read to nowhere only when a later file needs the parser to get
  // past it. Otherwise the request stops reading at once and its connection closes after the
  // answer, instead of the API reading (and collecting) the rest of a 300 MB body at loopback
  // speed while the operation is still answering.
  #discard(): void {
    if (!this.#part) return;
    if (this.#source.othersPending(this)) discard(this.#part);
    else this.#source.stopReading();
  }
}

/** The parser waits until a part is consumed: discarding is reading it to nowhere. */
export function discard(part: Readable): void {
  // a part cut short by a broken request reports it; nobody reads this one any more
  if (!part.listenerCount('error')) part.on('error', () => undefined);
  part.removeAllListeners('data').resume();
}

/** Waits until a streamed file's part has arrived, so its name is known; other Files are there already. */
export const arrived = (file: File): Promise<void> =>
  (file as unknown) instanceof StreamedFile ? (file as unknown as StreamedFile).ready() : Promise.resolve();

function erroredStream(error: unknown): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.error(error) });
}

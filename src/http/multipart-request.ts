import type { Readable } from 'node:stream';
import { Busboy, type BusboyFileStream } from '@fastify/busboy';
import { GraphQLError } from 'graphql';
import { discard, type FileSource, StreamedFile, uploadError } from './streamed-file.ts';

export interface UploadLimits {
  /** UPLOAD_MAX_BYTES: the most one file may hold. */
  maxFileBytes: number;
  /** UPLOAD_MAX_FILES: the most files one request may carry. */
  maxFiles: number;
}

// The operations and map fields are JSON the parser holds whole; a file part's headers are small.
const FIELD_MAX_BYTES = 1024 * 1024;
const PART_HEADER_MAX_BYTES = 16 * 1024;

/** The largest body a request within `limits` can have; past it the request is cut off. */
export const maxRequestBytes = (limits: UploadLimits) =>
  limits.maxFiles * (limits.maxFileBytes + PART_HEADER_MAX_BYTES) +
  2 * (FIELD_MAX_BYTES + PART_HEADER_MAX_BYTES);

export const badRequest = (message: string, status = 400) =>
  new GraphQLError(message, {
    extensions: { http: { status }, code: status === 413 ? 'REQUEST_ENTITY_TOO_LARGE' : 'BAD_REQUEST' },
  });

/**
 * A GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec) parsed as it
 * streams: `params` resolves once `operations`, `map` and the first file's part headers have
 * arrived, with a StreamedFile at every mapped path; each file's bytes then flow to whoever reads
 * its stream, one part at a time, in the order they are sent. Nothing is held but the two JSON
 * fields and a file's read-ahead.
 */
export class MultipartRequest implements FileSource {
  readonly params: Promise<unknown>;
  readonly #params = Promise.withResolvers<unknown>();
  readonly #files = new Map<string, StreamedFile>();
  readonly #limits: UploadLimits;
  #operations: unknown;
  #mapped = false;
  #latest: StreamedFile | undefined;
  #settled = false;
  #ended = false;
  #stopped = false;
  readonly #source: Readable;
  readonly #parser: ReturnType<typeof Busboy>;
  readonly #onStop: () => void;
  readonly #count: (chunk: Buffer) => void;

  /**
   * `onStop` is told when the rest of the body will not be read (the operation is done, or the body
   * passed the most a request within `limits` may carry): it ends the connection after the answer.
   */
  constructor(source: Readable, contentType: string, limits: UploadLimits, onStop: () => void) {
    this.params = this.#params.promise;
    this.#limits = limits;
    this.#source = source;
    this.#onStop = onStop;
    let parser: ReturnType<typeof Busboy>;
    try {
      parser = Busboy({
        headers: { 'content-type': contentType },
        // every part but the two JSON fields is a file, so none is ever buffered as a field
        isPartAFile: (name) => name !== 'operations' && name !== 'map',
        limits: {
          fieldSize: FIELD_MAX_BYTES,
          fields: 2,
          fileSize: limits.maxFileBytes,
          files: limits.maxFiles,
          headerSize: PART_HEADER_MAX_BYTES,
        },
      });
    } catch (error) {
      throw badRequest(`invalid multipart request: ${(error as Error).message}`);
    }
    parser.on('field', (name, value, _nameTruncated, valueTruncated) =>
      this.#guard(() => this.#field(name, value, valueTruncated)),
    );
    parser.on('file', (name, part, filename, _encoding, mimeType) =>
      this.#guard(() => this.#file(name, part, filename, mimeType)),
    );
    parser.on('finish', () => this.#guard(() => this.#finish()));
    parser.on('error', (error) =>
      this.#end(badRequest(`invalid multipart request: ${(error as Error).message ?? error}`)),
    );

    this.#parser = parser;

    const maxBytes = maxRequestBytes(limits);
    let received = 0;
    this.#count = (chunk) => {
      received += chunk.length;
      if (received <= maxBytes) return;
      this.#end(badRequest(`the request body exceeds ${maxBytes} bytes`, 413));
      this.#stop();
    };
    source.on('data', this.#count);
    source.once('error', () => this.#end(uploadError('the request was aborted before its files arrived')));
    source.once('close', () => {
      if (!source.readableEnded) this.#end(uploadError('the request was aborted before its files arrived'));
    });
    source.pipe(parser);
  }

  /** The response is on its way: no file is read after this, and the rest of the body is not read. */
  settle(): void {
    this.#settled = true;
    for (const file of this.#files.values()) {
      if (file.pending) file.fail(uploadError(`the operation ended without reading file "${file.field}"`));
    }
    this.#stop();
  }

  // Reading the rest only to drop it would cost the time and garbage of reading it: stop instead.
  #stop(): void {
    if (this.#stopped || this.#source.readableEnded) return;
    this.#stopped = true;
    this.#source.unpipe(this.#parser);
    this.#source.off('data', this.#count);
    this.#source.pause();
    this.#onStop();
  }

  othersPending(file: StreamedFile): boolean {
    for (const other of this.#files.values()) if (other !== file && other.pending) return true;
    return false;
  }

  stopReading(): void {
    this.#stop();
  }

  want(file: StreamedFile): void {
    // Parts arrive in the order they were sent: one that nobody reads holds up those after it.
    if (file.awaited && this.#latest?.held) {
      this.#latest.fail(skipped(this.#latest, file));
    }
  }

  #field(name: string, value: string, truncated: boolean): void {
    if (truncated) throw badRequest(`multipart field "${name}" exceeds ${FIELD_MAX_BYTES} bytes`, 413);
    if (name === 'operations') {
      if (this.#operations !== undefined) throw badRequest('multipart field "operations" was sent twice');
      this.#operations = parseJson(value, 'operations');
      if (typeof this.#operations !== 'object' || this.#operations === null) {
        throw badRequest('multipart field "operations" must be a JSON object or array');
      }
      return;
    }
    if (this.#operations === undefined) throw badRequest('multipart field "operations" must come first');
    if (this.#mapped) throw badRequest('multipart field "map" was sent twice');
    this.#mapped = true;
    this.#map(parseJson(value, 'map'));
  }

  #map(map: unknown): void {
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw badRequest('multipart field "map" must be a JSON object of file names to variable paths');
    }
    const entries = Object.entries(map);
    if (entries.length > this.#limits.maxFiles) {
      throw badRequest(
        `an upload carries at most ${this.#limits.maxFiles} files; the map names ${entries.length}`,
      );
    }
    for (const [field, paths] of entries) {
      if (!Array.isArray(paths) || !paths.length || !paths.every((p) => typeof p === 'string')) {
        throw badRequest(`multipart field "map": "${field}" must map to an array of variable paths`);
      }
      const file = new StreamedFile(this, field, this.#limits.maxFileBytes);
      this.#files.set(field, file);
      for (const path of paths) setPath(this.#operations, path, file);
    }
    // with files, the operation starts when the first arrives: its name is known by then
    if (!entries.length) this.#params.resolve(this.#operations);
  }

  #file(name: string, part: BusboyFileStream, filename: string, mimeType: string): void {
    const file = this.#files.get(name);
    if (!file || this.#settled) {
      discard(part);
      if (!this.#mapped)
        throw badRequest('multipart fields "operations" and "map" must come before the files');
      return;
    }
    const awaited = [...this.#files.values()].find((f) => f.awaited);
    this.#latest = file;
    file.arrive(part, filename, mimeType || 'application/octet-stream');
    if (awaited && awaited !== file) file.fail(skipped(file, awaited));
    this.#params.resolve(this.#operations);
  }

  #finish(): void {
    if (this.#operations === undefined) throw badRequest('multipart field "operations" is missing');
    // a request without map carries no files
    this.#params.resolve(this.#operations);
    this.#end(undefined);
  }

  /** No more parts will arrive: files still waiting for theirs fail with `error`, or as missing. */
  #end(error: GraphQLError | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error) this.#params.reject(error);
    for (const file of this.#files.values()) {
      if (file.pending || error) {
        file.fail(error ?? uploadError(`file "${file.field}" is in the map but not in the request`));
      }
    }
  }

  #guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.#end(error instanceof GraphQLError ? error : badRequest(String(error)));
    }
  }
}

const skipped = (file: StreamedFile, wanted: StreamedFile) =>
  uploadError(
    `file "${file.field}" was skipped: the operation read file "${wanted.field}" first; send files in the order the operation reads them`,
  );

function parseJson(value: string, field: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw badRequest(`multipart field "${field}" must be valid JSON`);
  }
}

// As Yoga's own multipart parser sets a file at `variables.files.0`; prototype keys are refused.
function setPath(target: unknown, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target as Record<string, unknown>;
  for (const [i, key] of keys.entries()) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      throw badRequest(`multipart field "map": invalid path "${path}"`);
    }
    if (i === keys.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null) {
      throw badRequest(`multipart field "map": path "${path}" is not in the operations`);
    }
    node = next as Record<string, unknown>;
  }
}

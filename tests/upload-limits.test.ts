import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DocumentsDocument } from '../src/sdk/generated/graphql.ts';
import { issueToken } from '../src/services/auth.service.ts';
import { childEnv, startTestApp, TEST_AUTH_SECRET, type TestApp, testConfig } from './helpers/harness.ts';

// Defect 5: uploads were buffered whole by the multipart parser before any size check. These
// tests stream request bodies from generators (never holding them) and check that a file over
// UPLOAD_MAX_BYTES ends as FileTooLarge while the API reads it, without buffering it.

const MiB = 1024 * 1024;
const CRLF = '\r\n';

type FilePart = { field: string; filename: string } & (
  | { content: Buffer }
  /** `bytes` bytes made of `block` repeated: big bodies without allocating them */
  | { block: Buffer; bytes: number }
);

interface MultipartBody {
  contentType: string;
  length: number;
  chunks: () => AsyncGenerator<Buffer>;
}

function multipartBody(fields: [string, string][], files: FilePart[]): MultipartBody {
  const boundary = `----upload-limits-${randomUUID()}`;
  const head = (disposition: string, type?: string) =>
    Buffer.from(
      `--${boundary}${CRLF}Content-Disposition: form-data; ${disposition}${CRLF}` +
        (type ? `Content-Type: ${type}${CRLF}` : '') +
        CRLF,
    );
  const fieldParts = fields.map(([name, value]) =>
    Buffer.concat([head(`name="${name}"`), Buffer.from(value), Buffer.from(CRLF)]),
  );
  const fileHeads = files.map((f) => head(`name="${f.field}"; filename="${f.filename}"`, 'text/plain'));
  const tail = Buffer.from(`--${boundary}--${CRLF}`);
  const sizeOf = (f: FilePart) => ('content' in f ? f.content.length : f.bytes);
  const length =
    fieldParts.reduce((n, p) => n + p.length, 0) +
    files.reduce((n, f, i) => n + fileHeads[i]!.length + sizeOf(f) + CRLF.length, 0) +
    tail.length;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    async *chunks() {
      yield* fieldParts;
      for (const [i, f] of files.entries()) {
        yield fileHeads[i]!;
        if ('content' in f) yield f.content;
        else {
          for (let left = f.bytes; left > 0; left -= f.block.length)
            yield left >= f.block.length ? f.block : f.block.subarray(0, left);
        }
        yield Buffer.from(CRLF);
      }
      yield tail;
    },
  };
}

/** The GraphQL multipart request spec: operations, then map, then the files named in the map. */
function uploadRequest(
  query: string,
  variables: Record<string, unknown>,
  map: Record<string, string[]>,
  files: FilePart[],
) {
  return multipartBody(
    [
      ['operations', JSON.stringify({ query, variables })],
      ['map', JSON.stringify(map)],
    ],
    files,
  );
}

interface Sent {
  status: number;
  body: string;
  json: () => { data?: Record<string, unknown>; errors?: { message: string }[] };
  /** bytes of the body written when the response began */
  sentAtResponse: number;
  /** resolves with the bytes written once the client stops sending (the body ended or was cut off) */
  written: Promise<number>;
}

/**
 * POSTs a body from its generator over a plain socket, honouring backpressure, without
 * Content-Length when `chunked`. Not node:http's client: that one stops sending once an early
 * response has ended, and the point here is what the server does with the rest of the body.
 */
function send(url: string, token: string, body: MultipartBody, options: { chunked?: boolean } = {}) {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect(Number(port), hostname);
  let sent = 0;
  const written = new Promise<number>((resolve) => {
    socket.once('close', () => resolve(sent));
    (async () => {
      const write = (data: Buffer | string) => (socket.write(data) ? undefined : once(socket, 'drain'));
      await write(
        `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: ${body.contentType}\r\nGraphQL-Require-Preflight: 1\r\n` +
          (options.chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${body.length}\r\n`) +
          '\r\n',
      );
      for await (const chunk of body.chunks()) {
        if (socket.destroyed) return;
        if (options.chunked) await write(`${chunk.length.toString(16)}\r\n`);
        await write(chunk);
        if (options.chunked) await write('\r\n');
        sent += chunk.length;
      }
      await write(options.chunked ? '0\r\n\r\n' : '');
      resolve(sent);
    })().catch(() => resolve(sent));
  });
  socket.on('error', () => undefined);
  return new Promise<Sent>((resolve, reject) => {
    let sentAtResponse = -1;
    let received = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      if (sentAtResponse < 0) sentAtResponse = sent;
      received = Buffer.concat([received, data]);
      const response = parseResponse(received);
      if (!response) return;
      socket.off('data', onData);
      resolve({ ...response, json: () => JSON.parse(response.body), sentAtResponse, written });
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed before a response: ${received}`)));
  });
}

/** The response in `data` once it is complete: its framing is Content-Length or chunked. */
function parseResponse(data: Buffer): { status: number; body: string } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = data.subarray(0, end).toString();
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)![1]);
  let rest = data.subarray(end + 4);
  const length = /^content-length: *(\d+)/im.exec(head);
  if (length) return rest.length >= Number(length[1]) ? { status, body: rest.toString() } : undefined;
  let body = '';
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line < 0) return undefined;
    const size = Number.parseInt(rest.subarray(0, line).toString(), 16);
    if (size === 0) return { status, body };
    if (rest.length < line + 2 + size + 2) return undefined;
    body += rest.subarray(line + 2, line + 2 + size).toString();
    rest = rest.subarray(line + 2 + size + 2);
  }
}

const OUTCOME = `__typename ... on Document { id filename bytes } ... on FileTooLarge { filename limitBytes } ... on Error { code message }`;
const uploadOne = `mutation ($file: File!) { uploadDocument(file: $file) { ${OUTCOME} } }`;
const uploadMany = `mutation ($files: [File!]!) { uploadDocuments(files: $files) { ${OUTCOME} } }`;
const bigText = (bytes: number, filename = 'huge.txt', field = '0'): FilePart => ({
  field,
  filename,
  block: Buffer.alloc(MiB, 'All work and no play makes Jack a dull boy. '),
  bytes,
});

describe('a 300 MB upload to the API in its own process', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  function startApi(): Promise<string> {
    const config = testConfig();
    child = spawn(process.execPath, ['src/main.ts'], {
      env: childEnv(config, {
        LOG_LEVEL: 'info',
        PORT: '0',
        AUTH_ALLOW_ANONYMOUS: 'false',
        // the first 8 MB of the file stream to S3 (and are removed) before it is known too large
        UPLOAD_MAX_BYTES: String(8 * MiB),
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`API did not start:\n${out}`)), 60_000);
      child!.stdout!.on('data', () => {
        const m = /on (http:\/\/localhost:\d+\/graphql)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child!.once('exit', (code) => reject(new Error(`API exited with ${code}:\n${out}`)));
    });
  }

  const memory = (pid: number) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  };

  it('ends as FileTooLarge while the API streams it, its memory growing by less than 64 MB', async () => {
    const url = await startApi();
    const pid = child!.pid!;
    const userId = `u-${randomUUID()}`;
    const token = issueToken(TEST_AUTH_SECRET, userId);
    // warm the upload path (parser, S3, database) so what follows measures the big body only
    const warm = await send(
      url,
      token,
      uploadRequest(uploadOne, { file: null }, { 0: ['variables.file'] }, [
        { field: '0', filename: 'warm.txt', content: Buffer.from('a warm-up upload of a few words') },
      ]),
    );
    expect(warm.json().data).toMatchObject({ uploadDocument: { __typename: 'Document' } });
    await new Promise((r) => setTimeout(r, 500));
    const before = memory(pid);
    // "5" resets VmHWM to the current RSS, so the peak read afterwards is this upload's
    writeFileSync(`/proc/${pid}/clear_refs`, '5');

    const body = uploadRequest(uploadOne, { file: null }, { 0: ['variables.file'] }, [bigText(300 * MiB)]);
    const res = await send(url, token, body, { chunked: true });
    const written = await res.written;
    const after = memory(pid);
    const growthMiB = (after.peak - before.rss) / MiB;
    console.log(
      `API RSS ${(before.rss / MiB).toFixed(0)} MiB before, peak ${(after.peak / MiB).toFixed(0)} MiB during the 300 MB upload: +${growthMiB.toFixed(1)} MiB; ${(written / MiB).toFixed(0)} MiB sent`,
    );

    expect(res.status).toBe(200);
    expect(res.json().data).toMatchObject({
      uploadDocument: {
        __typename: 'FileTooLarge',
        code: 'FILE_TOO_LARGE',
        filename: 'huge.txt',
        limitBytes: 8 * MiB,
      },
    });
    // the answer comes once the limit is passed, and the API reads no more of the body after it
    // (what the client got out is what the API read plus the sockets' buffers)
    expect(res.sentAtResponse).toBeLessThan(200 * MiB);
    expect(written).toBeLessThan(200 * MiB);
    expect(growthMiB).toBeLessThan(64);

    const list = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(DocumentsDocument), variables: { first: 10 } }),
    }).then((r) => r.json() as Promise<{ data: { documents: { edges: { node: { filename: string } }[] } } }>);
    expect(list.data.documents.edges.map((e) => e.node.filename)).toEqual(['warm.txt']);
  }, 180_000);
});

describe('the streaming multipart parser', () => {
  const LIMIT = 8 * MiB;
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { UPLOAD_MAX_BYTES: String(LIMIT), UPLOAD_MAX_FILES: '4' } });
  });
  afterAll(async () => {
    await app?.close();
  });

  const rawObjects = (userId: string) => app.services.blobs.list(userId, 'raw/');

  it('rejects only the file over the limit; the others in the same request are stored byte-exact', async () => {
    const client = app.client();
    const small = Buffer.from('The orchard keeper counted forty plum trees along the southern wall.\n');
    // over 5 MiB: stored through S3's multipart upload, not one PutObject
    const letters = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\n';
    const large = Buffer.from(
      Array.from({ length: 7 * MiB }, (_, i) => letters[(i * 7919) % letters.length]).join(''),
    );
    const res = await send(
      app.url,
      client.token,
      uploadRequest(
        uploadMany,
        { files: [null, null, null] },
        { 0: ['variables.files.0'], 1: ['variables.files.1'], 2: ['variables.files.2'] },
        [
          { field: '0', filename: 'small.txt', content: small },
          bigText(LIMIT + 1, 'over.txt', '1'),
          { field: '2', filename: 'large.txt', content: large },
        ],
      ),
    );
    expect(res.status).toBe(200);
    const results = res.json().data!.uploadDocuments as { __typename: string; id?: string; bytes?: number }[];
    expect(results.map((r) => r.__typename)).toEqual(['Document', 'FileTooLarge', 'Document']);
    expect(results[1]).toMatchObject({ filename: 'over.txt', limitBytes: LIMIT });
    expect(results.map((r) => r.bytes)).toEqual([small.length, undefined, large.length]);
    const keys = await rawObjects(client.userId);
    expect(keys).toHaveLength(2);
    const stored = await Promise.all(keys.sort().map((k) => app.services.blobs.get(client.userId, k)));
    const byName = Object.fromEntries(keys.sort().map((k, i) => [k.split('/').at(-1)!, stored[i]!]));
    expect(byName['small.txt']!.equals(small)).toBe(true);
    expect(byName['large.txt']!.equals(large)).toBe(true);
  });

  it('stops reading a file without Content-Length once it passes the limit, storing nothing', async () => {
    const client = app.client();
    const body = uploadRequest(uploadOne, { file: null }, { 0: ['variables.file'] }, [
      bigText(64 * MiB, 'endless.txt'),
    ]);
    const res = await send(app.url, client.token, body, { chunked: true });
    expect(res.status).toBe(200);
    expect(res.json().data).toMatchObject({
      uploadDocument: { __typename: 'FileTooLarge', filename: 'endless.txt', limitBytes: LIMIT },
    });
    // answered while the client was still sending, and nothing more read once answered: what the
    // client got out is what the API read plus the sockets' buffers
    expect(res.sentAtResponse).toBeLessThan(body.length);
    expect(await res.written).toBeLessThan(48 * MiB);
    expect(await rawObjects(client.userId)).toEqual([]);
    const list = await client.request(DocumentsDocument, { first: 10 });
    expect(list.data!.documents).toMatchObject({ __typename: 'QueryDocumentsConnection', edges: [] });
  });

  it('cuts off a body without Content-Length past the most a request may carry, with 413', async () => {
    const client = app.client();
    // parts the map does not name are read and dropped; 12 of 8 MB pass the cap (4 files of 8 MB)
    // by ~60 MB, more than loopback's socket buffers (4 MB send, up to 32 MB receive) can absorb
    // once the server stops reading: with less, all of it could be "sent" into the buffers
    const junk = Array.from({ length: 12 }, (_, i) => bigText(LIMIT, `junk${i}.txt`, `x${i}`));
    const body = uploadRequest(uploadOne, { file: null }, { 0: ['variables.file'] }, [
      ...junk,
      { field: '0', filename: 'late.txt', content: Buffer.from('a few late words') },
    ]);
    const res = await send(app.url, client.token, body, { chunked: true });
    expect(res.status).toBe(413);
    expect(res.json().errors![0]!.message).toMatch(/the request body exceeds \d+ bytes/);
    expect(await res.written).toBeLessThan(body.length);
    expect(await rawObjects(client.userId)).toEqual([]);
  });

  it('fails a file sent before one the operation reads first, instead of waiting for it', async () => {
    const client = app.client();
    // files.1 is sent first and is too big to wait in the parser's read-ahead
    const res = await send(
      app.url,
      client.token,
      uploadRequest(
        uploadMany,
        { files: [null, null] },
        { 0: ['variables.files.1'], 1: ['variables.files.0'] },
        [
          bigText(MiB, 'second.txt', '0'),
          { field: '1', filename: 'first.txt', content: Buffer.from('first words') },
        ],
      ),
    );
    expect(res.json().errors?.[0]?.message).toMatch(
      /file "0" was skipped: the operation read file "1" first; send files in the order the operation reads them/,
    );
    expect((await rawObjects(client.userId)).map((k) => k.split('/').at(-1))).toEqual(['first.txt']);
  });

  it('rejects a stored body that fails after the switch to a multipart upload, storing nothing', async () => {
    // a streamed upload can now fail mid-way (too large, client gone): the S3 store used to wait forever
    const userId = app.newUserId();
    const body = Readable.from(
      (async function* () {
        for (let i = 0; i < 6; i++) yield Buffer.alloc(MiB, 'a');
        throw new Error('the client went away');
      })(),
    );
    await expect(
      app.services.blobs.put(userId, 'raw/x/broken.txt', body, { maxBytes: LIMIT }),
    ).rejects.toThrow('the client went away');
    expect(await rawObjects(userId)).toEqual([]);
  }, 15_000);

  it('answers a request larger than any it accepts with 413 before reading it', async () => {
    const client = app.client();
    const res = await send(
      app.url,
      client.token,
      uploadRequest(uploadOne, { file: null }, { 0: ['variables.file'] }, [bigText(64 * MiB)]),
    );
    expect(res.status).toBe(413);
    expect(res.json().errors![0]!.message).toMatch(/exceeds/);
    expect(res.sentAtResponse).toBeLessThan(16 * MiB);
  });

  it('answers malformed multipart requests with 400 and a message saying what is wrong', async () => {
    const client = app.client();
    const file = { field: '0', filename: 'a.txt', content: Buffer.from('some words') };
    const operations = JSON.stringify({ query: uploadOne, variables: { file: null } });
    const cases: [string, MultipartBody, RegExp][] = [
      ['no operations', multipartBody([['map', '{"0":["variables.file"]}']], [file]), /operations/],
      [
        'operations not JSON',
        multipartBody(
          [
            ['operations', '{nope'],
            ['map', '{}'],
          ],
          [file],
        ),
        /operations.*JSON/,
      ],
      [
        'map not JSON',
        multipartBody(
          [
            ['operations', operations],
            ['map', '[oops'],
          ],
          [file],
        ),
        /map.*JSON/,
      ],
      [
        'map not an object of paths',
        multipartBody(
          [
            ['operations', operations],
            ['map', '{"0":"variables.file"}'],
          ],
          [file],
        ),
        /map/,
      ],
      ['files before the map', multipartBody([['operations', operations]], [file]), /map/],
      [
        'more files than allowed',
        multipartBody(
          [
            ['operations', operations],
            ['map', JSON.stringify(Object.fromEntries([0, 1, 2, 3, 4].map((i) => [i, [`variables.f${i}`]])))],
          ],
          [file],
        ),
        /at most 4 files/,
      ],
    ];
    for (const [name, body, message] of cases) {
      const res = await send(app.url, client.token, body);
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect({ name, message: res.json().errors?.[0]?.message }).toEqual({
        name,
        message: expect.stringMatching(message),
      });
    }
    // a file named in the map but missing from the request fails that upload, readably
    const missing = await send(
      app.url,
      client.token,
      multipartBody(
        [
          ['operations', operations],
          ['map', '{"0":["variables.file"]}'],
        ],
        [],
      ),
    );
    expect(missing.json().errors?.[0]?.message).toMatch(/file "0".*not in the request/);
    expect(await rawObjects(client.userId)).toEqual([]);
  });
});

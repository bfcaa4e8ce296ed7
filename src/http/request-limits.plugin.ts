import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { badRequest, MultipartRequest, maxRequestBytes, type UploadLimits } from './multipart-request.ts';

export interface RequestLimits extends UploadLimits {
  /** The most a request other than an upload may send (JSON, GraphQL string, form-urlencoded). */
  maxBodyBytes: number;
}

interface NodeServerContext {
  req?: IncomingMessage;
  res?: ServerResponse;
}

const CONTENT_LENGTH = /^\d+$/;
const LINGER_MS = 2000;

const isMultipart = (request: Request) =>
  request.method === 'POST' &&
  request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() === 'multipart/form-data';

/**
 * Body limits for every GraphQL request, in place of Yoga's `maxRequestBodySize` (one limit for all
 * bodies, and a multipart parser that holds every file in memory): multipart uploads are parsed as
 * they stream (MultipartRequest), each file limited to UPLOAD_MAX_BYTES while it is read; any other
 * body is limited to `maxBodyBytes`, as Yoga's own limit does. Create Yoga with `multipart: false`
 * and `maxRequestBodySize: false` next to this plugin.
 */
export function useRequestLimits(limits: RequestLimits): Plugin<Record<string, never>, NodeServerContext> {
  const uploads = new WeakMap<Request, MultipartRequest>();
  // requests answered before their body was read to the end
  const unread = new WeakSet<Request>();
  const tooLarge = (request: Request, message: string) => {
    unread.add(request);
    return badRequest(message, 413);
  };
  const maxUploadBytes = maxRequestBytes(limits);
  return {
    onRequestParse({ request, serverContext, requestParser, setRequestParser, fetchAPI }) {
      const header = request.headers.get('content-length');
      if (header !== null && !CONTENT_LENGTH.test(header))
        throw badRequest('Content-Length header is invalid');
      const declared = header === null ? undefined : Number(header);
      if (isMultipart(request)) {
        if (declared !== undefined && declared > maxUploadBytes) {
          throw tooLarge(
            request,
            `the request body of ${declared} bytes exceeds ${maxUploadBytes} bytes (at most ${limits.maxFiles} files of ${limits.maxFileBytes} bytes)`,
          );
        }
        setRequestParser(() => {
          const upload = new MultipartRequest(
            bodyOf(request, serverContext),
            request.headers.get('content-type') ?? '',
            limits,
            () => unread.add(request),
          );
          uploads.set(request, upload);
          return upload.params as never;
        });
        return;
      }
      if (declared !== undefined && declared > limits.maxBodyBytes) {
        throw tooLarge(request, `the request body exceeds ${limits.maxBodyBytes} bytes`);
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => parse(limitBody(req, limits.maxBodyBytes, fetchAPI)));
    },
    onResponse({ request, serverContext }) {
      // the operation is done: files it did not read are not read any more
      uploads.get(request)?.settle();
      if (unread.has(request)) closeAfterResponse(request, serverContext);
    },
  };
}

// Yoga's Request wraps the Node request lazily; reading the Node stream itself keeps its backpressure.
function bodyOf(request: Request, serverContext: NodeServerContext): Readable {
  if (serverContext.req) return serverContext.req;
  if (!request.body) return Readable.from([]);
  const reader = request.body.getReader();
  return Readable.from(
    (async function* () {
      for (let next = await reader.read(); !next.done; next = await reader.read()) yield next.value;
    })(),
  );
}

/**
 * Ends a connection whose request body is left unread, once the answer is out: a FIN, so the
 * client reads the answer and stops sending, then a reset if it does not close within LINGER_MS.
 * Closing at once could reset the connection before the client has read the answer.
 */
function closeAfterResponse(request: Request, { req, res }: NodeServerContext): void {
  if (!req || !res) {
    void request.body?.cancel().catch(() => undefined);
    return;
  }
  const close = () => {
    // after Node's own handler: a body nobody consumed would otherwise be read to its end
    req.pause();
    const { socket } = req;
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(timer));
  };
  if (res.writableFinished) close();
  else res.once('finish', close);
}

function limitBody(
  request: Request,
  maxBytes: number,
  fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream },
): Request {
  const body = request.body;
  if (!body) return request;
  // a native body needs the native TransformStream, a ponyfill body the ponyfill's (as in Yoga's own limit)
  const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let received = 0;
  const limited = body.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        if (received > maxBytes)
          controller.error(badRequest(`the request body exceeds ${maxBytes} bytes`, 413));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    body: limited,
    duplex: 'half',
  } as RequestInit);
}

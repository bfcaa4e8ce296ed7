import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Services } from '../container.ts';
import { InvalidTokenError } from '../services/auth.service.ts';
import type { Citation } from '../services/chat/chat-records.ts';
import {
  type CompletionTurn,
  OpenAICompatService,
  UnknownModelError,
} from '../services/chat/openai-compat.service.ts';
import { InvalidInputError, NotFoundError } from '../services/errors.ts';
import { RateLimitedError } from '../services/ports/rate-limits.ts';

// The OpenAI-compatible door (issue 15): POST /v1/chat/completions (JSON or SSE chunks) and
// GET /v1/models, with OpenAI's error bodies, so any tool with a configurable base URL talks to
// the twin. A bearer API key or access token is required: no anonymous user here, even in development.

const MAX_BODY_BYTES = 1024 * 1024;

export const isOpenAICompatRoute = (url: string | undefined) => Boolean(url?.startsWith('/v1/'));

type ErrorType = 'invalid_request_error' | 'requests' | 'server_error';

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: ErrorType,
  code: string | null = null,
  headers: Record<string, string> = {},
) {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
    .end(JSON.stringify({ error: { message, type, param: null, code } }));
}

function sendJson(res: ServerResponse, body: unknown) {
  res
    .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const completionBody = z.object({
  model: z.string().min(1),
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
        // text only: an assistant turn with tool calls has null content
        content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
      }),
    )
    .min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
});

const turnOf = (m: z.infer<typeof completionBody>['messages'][number]): CompletionTurn => ({
  role: m.role,
  content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join('\n'),
});

async function readJson(
  req: IncomingMessage,
): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { ok: false, error: `the body is limited to ${MAX_BODY_BYTES} bytes` };
    parts.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(parts).toString('utf8')) };
  } catch {
    return { ok: false, error: 'the body is not valid JSON' };
  }
}

/** A citation in the reply's extra `citations` field, with the cited passage's text. */
async function citationsOf(services: Services, userId: string, sources: readonly Citation[]) {
  return Promise.all(
    sources.map(async (s, i) => ({
      index: i + 1,
      document_id: s.documentId,
      chunk_index: s.chunkIndex,
      char_start: s.charStart,
      char_end: s.charEnd,
      page: s.page,
      score: s.score,
      text: await services.chunks.load(userId, s.s3Path).catch(() => null),
    })),
  );
}

// OpenAI's finish reasons; a cancelled reply ends as a complete one would
const finishReasonOf = (reason: string) => (reason === 'length' ? 'length' : 'stop');

export function createOpenAICompatRoute(services: Services) {
  const compat = new OpenAICompatService(services);

  async function completions(userId: string, req: IncomingMessage, res: ServerResponse) {
    const body = await readJson(req);
    if (!body.ok) return sendError(res, 400, body.error, 'invalid_request_error');
    const parsed = completionBody.safeParse(body.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const at = issue.path.join('.');
      return sendError(res, 400, `${at ? `${at}: ` : ''}${issue.message}`, 'invalid_request_error');
    }
    const request = parsed.data;
    const aborted = new AbortController();
    let ended = false;
    let started: Awaited<ReturnType<typeof compat.start>>;
    try {
      started = await compat.start(
        userId,
        { model: request.model, messages: request.messages.map(turnOf) },
        aborted.signal,
      );
    } catch (error) {
      if (error instanceof UnknownModelError)
        return sendError(res, 404, error.message, 'invalid_request_error', 'model_not_found');
      if (error instanceof InvalidInputError)
        return sendError(res, 400, error.message, 'invalid_request_error');
      if (error instanceof RateLimitedError)
        return sendError(res, 429, error.message, 'requests', 'rate_limit_exceeded', {
          'retry-after': String(error.retryAfterSeconds),
        });
      throw error;
    }
    // a client that goes away stops its reply, as cancelReply would
    res.once('close', () => {
      if (ended) return;
      aborted.abort();
      compat.abandon(userId, started.messageId).catch((err: unknown) => {
        services.log.warn({ err, messageId: started.messageId }, 'could not cancel an abandoned completion');
      });
    });
    const id = `chatcmpl-${started.messageId.replace('.', '-')}`;
    const created = Math.floor(Date.now() / 1000);
    const stream = request.stream === true;
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: request.model, choices: [{ index: 0, logprobs: null, ...choice }], ...extra })}\n\n`;
    if (stream) {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }));
    }
    let sources: Citation[] = [];
    let text = '';
    for await (const event of started.events) {
      if (event instanceof Error) {
        // the reply's own events are gone: nothing a client did, and nothing it can fix
        services.log.error({ err: event, messageId: started.messageId }, 'completion lost its reply');
        ended = true;
        const message = event instanceof NotFoundError ? 'the reply was lost' : event.message;
        if (!stream) return sendError(res, 500, message, 'server_error');
        res.end(
          `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`,
        );
        return;
      }
      if (event.type === 'citations') sources = event.sources;
      else if (event.type === 'token') {
        text += event.text;
        if (stream) res.write(chunk({ delta: { content: event.text }, finish_reason: null }));
      } else if (event.type === 'failed') {
        ended = true;
        const message = `the twin could not reply: ${event.error}`;
        if (!stream) return sendError(res, 502, message, 'server_error');
        res.end(
          `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`,
        );
        return;
      } else {
        ended = true;
        const citations = await citationsOf(services, userId, sources);
        const finish_reason = finishReasonOf(event.finishReason);
        const usage = event.usage && {
          prompt_tokens: event.usage.promptTokens,
          completion_tokens: event.usage.completionTokens,
          total_tokens: event.usage.totalTokens,
        };
        if (!stream) {
          return sendJson(res, {
            id,
            object: 'chat.completion',
            created,
            model: request.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: text, refusal: null, citations },
                logprobs: null,
                finish_reason,
              },
            ],
            usage,
            citations,
          });
        }
        res.write(chunk({ delta: {}, finish_reason }, { citations }));
        if (request.stream_options?.include_usage)
          res.write(
            `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: request.model, choices: [], usage })}\n\n`,
          );
        res.end('data: [DONE]\n\n');
        return;
      }
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '').split('?')[0];
    const routes: Record<string, string> = { '/v1/chat/completions': 'POST', '/v1/models': 'GET' };
    const method = path ? routes[path] : undefined;
    if (!method)
      return sendError(
        res,
        404,
        `Unknown request URL: ${req.method} ${path}`,
        'invalid_request_error',
        'unknown_url',
      );
    if (req.method !== method)
      return sendError(res, 405, `${path} takes ${method}`, 'invalid_request_error', 'method_not_allowed', {
        allow: method,
      });
    let userId: string;
    try {
      if (!req.headers.authorization)
        throw new InvalidTokenError('missing Authorization: Bearer <API key or token>');
      ({ userId } = await services.auth.authenticate(req.headers.authorization));
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      return sendError(res, 401, error.message, 'invalid_request_error', 'invalid_api_key');
    }
    await services.users.ensure(userId);
    if (method === 'GET') {
      return sendJson(res, {
        object: 'list',
        data: compat.models(userId).map((id) => ({ id, object: 'model', created: 0, owned_by: userId })),
      });
    }
    return completions(userId, req, res);
  }

  return async function serveOpenAICompat(req: IncomingMessage, res: ServerResponse) {
    try {
      await serve(req, res);
    } catch (err) {
      services.log.error({ err, url: req.url }, 'unexpected error in an OpenAI-compatible request');
      if (!res.headersSent) sendError(res, 500, 'internal server error', 'server_error');
      else res.destroy();
    }
  };
}

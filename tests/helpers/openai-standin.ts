import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A local stand-in for an OpenAI-compatible chat server (DESIGN §2: a protocol-level stand-in for
// a paid remote API). It streams scripted tokens as `chat.completion.chunk` SSE events with a
// configurable time to first token and inter-token delay, and records every request it gets. A
// script's `complete` answers non-streaming (JSON) requests, as the memory build sends them.

export interface StandinScript {
  /** Tokens to stream; a function sees the request body (to echo part of the prompt, say). */
  tokens?: string[] | ((body: ChatRequestBody) => string[]);
  ttftMs?: number;
  interTokenMs?: number | ((body: ChatRequestBody) => number);
  /** Answer with this HTTP status and no stream (a model endpoint that is down or refusing). */
  failStatus?: number;
  /** Rewrites each token as it is written (a benchmark stamps the time it left the model). */
  stamp?: (token: string, index: number) => string;
  model?: string;
  finishReason?: string;
  /**
   * `modal`: check requests as modal/'s inference app does (twin_gpu/web.py): a bearer token
   * (when `apiToken` is set), then a model named `twin:{userId}`, with its status codes and bodies.
   */
  backend?: 'openai' | 'modal';
  apiToken?: string;
  /**
   * Answers non-streaming requests (`stream` absent or false) with one `chat.completion` whose
   * message is the returned text, or with an HTTP error status (and body). Unset: such requests
   * are streamed like the others.
   */
  complete?: (body: ChatRequestBody) => StandinCompletion | Promise<StandinCompletion>;
}

export type StandinCompletion = string | { status: number; body?: unknown };

export interface ChatRequestBody {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  temperature?: number;
  response_format?: { type: string };
}

export interface RecordedRequest {
  body: ChatRequestBody;
  authorization: string | undefined;
  receivedAt: number;
  /** The client went away before the stream finished (cancelled upstream). */
  aborted: boolean;
  finished: boolean;
  tokensSent: number;
}

export interface OpenAIStandin {
  /** Base URL for the openai client (`…/v1`). */
  url: string;
  requests: RecordedRequest[];
  script: StandinScript;
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export const DEFAULT_TOKENS = ['Hello', ',', ' I', ' am', ' your', ' twin', '.'];

/** An error as twin_gpu/web.py's `_error` writes it. */
const modalError = (status: number, message: string, type: string, code: string | null = null) => ({
  status,
  body: { error: { message, type, code, param: null } },
});

// The order the real app checks in: the bearer token (a FastAPI dependency), then the model name
// (twin_gpu/inference.py `user_of`).
function modalRefusal(script: StandinScript, req: IncomingMessage, body: ChatRequestBody) {
  if (script.apiToken !== undefined) {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = space < 0 ? header : header.slice(0, space);
    const token = space < 0 ? '' : header.slice(space + 1);
    if (scheme.toLowerCase() !== 'bearer' || token !== script.apiToken)
      return modalError(401, 'invalid bearer token', 'authentication_error');
  }
  const model = body.model;
  if (!model.startsWith('twin:') || model.length === 'twin:'.length) {
    return modalError(
      404,
      `model must be 'twin:{userId}' or 'twin:{userId}@{runId}', got ${pythonRepr(model)}`,
      'invalid_request_error',
      'model_not_found',
    );
  }
  return null;
}

/** Python's repr() of a str, which the real app's message embeds. */
function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return quote + out + quote;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answerCompletion(
  script: StandinScript,
  body: ChatRequestBody,
  record: RecordedRequest,
  res: ServerResponse,
  seq: number,
) {
  const answer = await script.complete!(body);
  if (record.aborted) return;
  record.finished = true;
  if (typeof answer !== 'string') {
    const error = answer.body ?? { error: { message: 'stand-in failure', type: 'server_error' } };
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(error));
    return;
  }
  const promptTokens = body.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0);
  const completionTokens = Math.ceil(answer.length / 4);
  res.writeHead(200, { 'content-type': 'application/json' }).end(
    JSON.stringify({
      id: `chatcmpl-standin-${seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: script.model ?? body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: answer, refusal: null },
          logprobs: null,
          finish_reason: script.finishReason ?? 'stop',
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    }),
  );
}

export async function startOpenAIStandin(initial: StandinScript = {}): Promise<OpenAIStandin> {
  const requests: RecordedRequest[] = [];
  const state: { script: StandinScript } = { script: initial };
  let seq = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequestBody;
    const record: RecordedRequest = {
      body,
      authorization: req.headers.authorization,
      receivedAt: Date.now(),
      aborted: false,
      finished: false,
      tokensSent: 0,
    };
    requests.push(record);
    res.on('close', () => {
      if (!record.finished) record.aborted = true;
    });
    const script = state.script;
    const refusal = script.backend === 'modal' ? modalRefusal(script, req, body) : null;
    if (refusal) {
      record.finished = true;
      res.writeHead(refusal.status, { 'content-type': 'application/json' }).end(JSON.stringify(refusal.body));
      return;
    }
    if (script.failStatus) {
      record.finished = true;
      res
        .writeHead(script.failStatus, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { message: 'stand-in failure', type: 'server_error' } }));
      return;
    }
    if (!body.stream && script.complete) {
      await answerCompletion(script, body, record, res, ++seq);
      return;
    }
    const tokens =
      typeof script.tokens === 'function' ? script.tokens(body) : (script.tokens ?? DEFAULT_TOKENS);
    const id = `chatcmpl-standin-${++seq}`;
    const model = script.model ?? body.model;
    const created = Math.floor(Date.now() / 1000);
    const event = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    if (script.ttftMs) await sleep(script.ttftMs);
    const gap =
      typeof script.interTokenMs === 'function' ? script.interTokenMs(body) : (script.interTokenMs ?? 0);
    let batch = event([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
    // the wire form of a token chunk, with only the text serialized per token: the stand-in plays
    // a remote model, and its CPU should not crowd out what the benchmarks measure on a small box
    const tokenHead = event([{ index: 0, delta: { content: '\u0000' }, finish_reason: null }]).split(
      '"\\u0000"',
    );
    for (const [i, token] of tokens.entries()) {
      if (record.aborted) return;
      const text = script.stamp ? script.stamp(token, i) : token;
      batch += `${tokenHead[0]}${JSON.stringify(text)}${tokenHead[1]}`;
      record.tokensSent++;
      if (gap > 0) {
        res.write(batch);
        batch = '';
        await sleep(gap);
      } else if (batch.length > 16_384) {
        // no delay: write in large pieces, as a fast server's socket would carry them
        if (!res.write(batch)) await new Promise((r) => res.once('drain', r));
        batch = '';
      }
    }
    if (record.aborted) return;
    batch += event([{ index: 0, delta: {}, finish_reason: script.finishReason ?? 'stop' }]);
    const promptTokens = body.messages.reduce((n, m) => n + Math.ceil(m.content.length / 4), 0);
    if (body.stream_options?.include_usage) {
      batch += event([], {
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: tokens.length,
          total_tokens: promptTokens + tokens.length,
        },
      });
    }
    batch += 'data: [DONE]\n\n';
    record.finished = true;
    res.end(batch);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get script() {
      return state.script;
    },
    set script(next: StandinScript) {
      state.script = next;
    },
    async waitForRequests(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < n) {
        if (Date.now() > deadline) throw new Error(`stand-in got ${requests.length} of ${n} requests`);
        await sleep(10);
      }
      return requests.slice(0, n);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

// A strict local stand-in for modal/'s training endpoint (contracts/README.md, DESIGN §8): the
// routes, bearer check, request shapes and answers of contracts/train-api.vectors.json. A request
// of another shape is refused as twin_gpu/web.py refuses it (400 invalid_request_error), so a
// server that drifts from the contract fails its tests here. It never calls back by itself: the
// test plays the GPU side and posts signed callbacks. Like the local mode (one uvicorn app), it
// serves inference too: an OpenAI-compatible streaming /v1/chat/completions whose text `answer`
// picks by model name (`twin:{userId}` or `twin:{userId}@{runId}`), and the reload route.

const QUANTS = ['q8_0', 'q4_k_m', 'f16'];

/** The body of POST /train: every key of the contract present, nothing else. */
export const trainRequestSchema = z
  .object({
    runId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
    userId: z.string().regex(/^[A-Za-z0-9_.@-]{1,128}$/),
    attempt: z.number().int().min(1),
    baseModel: z.string().min(1).nullable(),
    datasetPath: z.string().min(1),
    outputPrefix: z.string().min(1),
    hyperparameters: z.record(z.string(), z.unknown()),
    quantizations: z.array(z.string()),
    callbackUrl: z.string().url(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const unknown = b.quantizations.filter((q) => !QUANTS.includes(q.toLowerCase()));
    if (unknown.length)
      ctx.addIssue({
        code: 'custom',
        path: ['quantizations'],
        message: `unsupported quantizations ${unknown}`,
      });
  });
export type StandinTrainRequest = z.infer<typeof trainRequestSchema>;

export type CallState = 'running' | 'completed' | 'failed' | 'cancelled' | 'unknown';

export interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  stream?: boolean;
  temperature?: number;
}

export interface TrainerStandin {
  url: string;
  /** Chat requests received, in order. */
  chats: ChatBody[];
  token: string;
  submits: StandinTrainRequest[];
  cancels: string[];
  reloads: string[];
  statusAsks: string[];
  /** Every request refused, with why. */
  refused: { path: string; status: number; message: string }[];
  /** call id of a (runId, attempt). */
  callOf(runId: string, attempt: number): string | undefined;
  /** What GET /train/{callId} answers for a call (default `running`). */
  setState(callId: string, state: CallState): void;
  /** The state every new call of this run starts in. */
  setRunState(runId: string, state: CallState): void;
  /** Answer every route with 503 (a trainer that is down), or stop doing so. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
const error = (res: ServerResponse, status: number, message: string, type: string) =>
  send(res, status, { error: { message, type, code: null, param: null } });

async function body(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

const MODEL = /^twin:[A-Za-z0-9_.-]+(@[A-Za-z0-9_.-]+)?$/;

export async function startTrainerStandin(
  answer: (body: ChatBody) => string[] = () => ['I', ' remember', '.'],
  token = `standin-${randomUUID()}`,
): Promise<TrainerStandin> {
  const calls = new Map<string, { runId: string; attempt: number; state: CallState }>();
  const byRun = new Map<string, string>();
  const runStates = new Map<string, CallState>();
  let down = false;
  const s: Omit<TrainerStandin, 'url' | 'close'> = {
    token,
    chats: [],
    submits: [],
    cancels: [],
    reloads: [],
    statusAsks: [],
    refused: [],
    callOf: (runId, attempt) => byRun.get(`${runId}/${attempt}`),
    setState: (callId, state) => {
      const c = calls.get(callId);
      if (c) c.state = state;
    },
    setRunState: (runId, state) => {
      runStates.set(runId, state);
      for (const c of calls.values()) if (c.runId === runId) c.state = state;
    },
    setDown: (d) => {
      down = d;
    },
  };
  const refuse = (res: ServerResponse, path: string, status: number, message: string, type: string) => {
    s.refused.push({ path, status, message });
    error(res, status, message, type);
  };

  const server = createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const text = await body(req);
    if (down) return error(res, 503, 'trainer down', 'server_error');
    if (req.method === 'GET' && path === '/health') return send(res, 200, { ok: true, loadedModels: 0 });
    if (req.headers.authorization !== `Bearer ${token}`)
      return refuse(res, path, 401, 'invalid bearer token', 'authentication_error');

    if (req.method === 'POST' && path === '/train') {
      if (req.headers['content-type'] !== 'application/json')
        return refuse(res, path, 400, 'content-type must be application/json', 'invalid_request_error');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return refuse(res, path, 400, 'body is not JSON', 'invalid_request_error');
      }
      const r = trainRequestSchema.safeParse(parsed);
      if (!r.success)
        return refuse(
          res,
          path,
          400,
          r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
          'invalid_request_error',
        );
      const b = r.data;
      // the contract's keys: outputs under the user's tenant, the callback URL names run and attempt
      const tenant = `tenant/${b.userId}/`;
      if (!b.datasetPath.startsWith(tenant) || !b.outputPrefix.startsWith(tenant))
        return refuse(
          res,
          path,
          400,
          'datasetPath and outputPrefix must be under tenant/{userId}/',
          'invalid_request_error',
        );
      const existing = byRun.get(`${b.runId}/${b.attempt}`);
      if (existing) return send(res, 202, { callId: existing });
      const callId = `fc-${randomUUID()}`;
      calls.set(callId, { runId: b.runId, attempt: b.attempt, state: runStates.get(b.runId) ?? 'running' });
      byRun.set(`${b.runId}/${b.attempt}`, callId);
      s.submits.push(b);
      return send(res, 202, { callId });
    }
    const status = /^\/train\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && status) {
      const callId = decodeURIComponent(status[1]!);
      s.statusAsks.push(callId);
      const c = calls.get(callId);
      return send(res, 200, {
        callId,
        status: c?.state ?? 'unknown',
        error: c?.state === 'failed' ? 'exit code 1' : null,
      });
    }
    const cancel = /^\/train\/([^/]+)\/cancel$/.exec(path);
    if (req.method === 'POST' && cancel) {
      if (text) return refuse(res, path, 400, 'cancel takes no body', 'invalid_request_error');
      const callId = decodeURIComponent(cancel[1]!);
      s.cancels.push(callId);
      const c = calls.get(callId);
      const was = c?.state ?? 'unknown';
      if (c && was === 'running') c.state = 'cancelled';
      return send(res, 200, { callId, cancelled: was === 'running', status: c?.state ?? 'unknown' });
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const chat = JSON.parse(text) as ChatBody;
      if (!MODEL.test(chat.model))
        return refuse(
          res,
          path,
          404,
          `model must be 'twin:{userId}[@{runId}]', got '${chat.model}'`,
          'invalid_request_error',
        );
      s.chats.push(chat);
      const id = `chatcmpl-${randomUUID()}`;
      const chunk = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 0, model: chat.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }, null));
      for (const t of answer(chat)) res.write(chunk({ content: t }, null));
      res.write(chunk({}, 'stop'));
      res.end('data: [DONE]\n\n');
      return;
    }
    const reload = /^\/models\/([^/]+)\/reload$/.exec(path);
    if (req.method === 'POST' && reload) {
      const userId = decodeURIComponent(reload[1]!);
      s.reloads.push(userId);
      return send(res, 200, { userId, dropped: false });
    }
    return refuse(res, path, 404, `no route ${req.method} ${path}`, 'not_found_error');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...s,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  } as TrainerStandin;
}

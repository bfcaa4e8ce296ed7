import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../container.ts';
import { verifyTrainingCallback } from '../services/training/callback-signature.ts';

// POST /modal/callbacks/{runId}/{attempt}: the trainer's signed status events (DESIGN §8). The
// signature (HMAC over timestamp and the raw body, ±300 s) is checked before anything is read
// from the body; a bad or stale one is 401 and changes nothing. Unknown runs are 404 (the trainer
// retries only on >= 500), replays 200.

const PATH = /^\/modal\/callbacks\/([A-Za-z0-9_.-]{1,128})\/(\d{1,4})$/;
const MAX_BODY_BYTES = 256 * 1024;

export const isTrainingCallback = (url: string | undefined) => Boolean(url?.startsWith('/modal/callbacks/'));

function answer(res: ServerResponse, status: number, body: Record<string, unknown>) {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

export async function serveTrainingCallback(services: Services, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  const match = PATH.exec((req.url ?? '').split('?')[0]!);
  if (!match) return answer(res, 404, { error: 'not found' });
  const secret = services.config.MODAL_CALLBACK_SECRET;
  if (!secret) return answer(res, 503, { error: 'training callbacks are not configured' });
  const body = await readBody(req);
  if (!body) return answer(res, 413, { error: 'body too large' });
  const header = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const verdict = verifyTrainingCallback({
    secret,
    timestampHeader: header('x-twin-timestamp'),
    signatureHeader: header('x-twin-signature'),
    body,
    nowSec: Math.floor(Date.now() / 1000),
  });
  if (!verdict.ok) {
    services.log.warn({ reason: verdict.reason, url: req.url }, 'training callback refused');
    return answer(res, 401, { error: `signature ${verdict.reason}` });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return answer(res, 400, { error: 'body is not JSON' });
  }
  const result = await services.training.handleCallback(match[1]!, Number(match[2]), parsed);
  return answer(res, result.status, result.body);
}

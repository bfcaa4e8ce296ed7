import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

// The dashboard (web/, issue 16) at /app: the static assets `bash scripts/web.sh` builds into
// dist/web/, with a fallback to index.html for the single-page app's own paths. Every answer
// carries a Content-Security-Policy that allows only this origin (scripts, styles, the API over
// HTTP and WebSocket): no inline script, no CDN, no framing.

export const APP_PATH = '/app';
export const DEFAULT_WEB_DIR = resolve(import.meta.dirname, '..', '..', 'dist', 'web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The dashboard's browser defences. `connect-src 'self'` covers the same origin's ws:/wss: (CSP
 * level 3); uPlot and React set styles through the CSSOM, which `style-src 'self'` allows.
 */
export const APP_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export function isAppRoute(url: string | undefined): boolean {
  const path = (url ?? '').split('?')[0]!;
  return path === APP_PATH || path.startsWith(`${APP_PATH}/`);
}

async function fileAt(path: string) {
  try {
    const s = await stat(path);
    return s.isFile() ? s : undefined;
  } catch {
    return undefined;
  }
}

export async function serveApp(req: IncomingMessage, res: ServerResponse, webDir = DEFAULT_WEB_DIR) {
  for (const [k, v] of Object.entries(APP_SECURITY_HEADERS)) res.setHeader(k, v);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      .end('method not allowed');
    return;
  }
  const rawPath = (req.url ?? '/').split('?')[0]!;
  if (rawPath === APP_PATH) {
    res.writeHead(308, { location: `${APP_PATH}/` }).end();
    return;
  }
  let relative: string;
  try {
    relative = decodeURIComponent(rawPath.slice(APP_PATH.length + 1));
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('bad path');
    return;
  }
  const root = resolve(webDir);
  const wanted = resolve(root, normalize(relative || 'index.html'));
  if (relative.includes('\0') || (wanted !== root && !wanted.startsWith(root + sep))) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found');
    return;
  }
  let path = wanted;
  let info = await fileAt(path);
  // the app's own routes (no file extension) are index.html; a missing asset is a 404
  if (!info && extname(relative) === '') {
    path = join(root, 'index.html');
    info = await fileAt(path);
  }
  if (!info) {
    const built = await fileAt(join(root, 'index.html'));
    res
      .writeHead(built ? 404 : 503, { 'content-type': 'text/plain; charset=utf-8' })
      .end(built ? 'not found' : 'the dashboard is not built: run `bash scripts/web.sh`');
    return;
  }
  const isIndex = path === join(root, 'index.html');
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': info.size,
    // hashed asset names change with their content; index.html is read again each time
    'cache-control': isIndex ? 'no-cache' : 'public, max-age=31536000, immutable',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  createReadStream(path)
    .on('error', () => res.destroy())
    .pipe(res);
}

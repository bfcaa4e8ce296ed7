import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Services } from '../container.ts';
import { InvalidTokenError } from '../services/auth.service.ts';

/**
 * GET /export: the caller's data as a zip (exportMyData), streamed as it is built. Authenticated
 * like /graphql by the Authorization header, which a cross-site page cannot send without CORS.
 */
export async function serveExport(services: Services, req: IncomingMessage, res: ServerResponse) {
  if (req.method !== 'GET') {
    res.writeHead(405, { allow: 'GET' }).end();
    return;
  }
  let userId: string;
  try {
    ({ userId } = await services.auth.authenticate(req.headers.authorization));
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: error.message }));
    return;
  }
  const day = new Date().toISOString().slice(0, 10);
  res.writeHead(200, {
    'content-type': 'application/zip',
    'content-disposition': `attachment; filename="digital-twin-export-${day}.zip"`,
    'cache-control': 'no-store',
  });
  await pipeline(services.account.exportData(userId), res).catch((err: unknown) => {
    // headers are gone: a cut stream is how the client learns of it
    services.log.warn({ err, userId }, 'export stream ended early');
    res.destroy();
  });
}

import { connect, createServer, type Socket } from 'node:net';

// A TCP proxy in front of a test server: a network a client can lose (dropWebSockets destroys the
// server side of every upgraded connection) or one that passes no WebSocket (refuseUpgrades).

export interface TcpProxy {
  url: string;
  /** WebSocket upgrade requests seen, and those refused. */
  upgrades: number;
  refused: number;
  refuseUpgrades: boolean;
  /** Destroys every proxied WebSocket, server side first; returns how many. */
  dropWebSockets(): number;
  /** Destroys every proxied connection (HTTP ones too: an SSE stream); returns how many. */
  dropAll(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const pairs = new Set<{ client: Socket; upstream: Socket; webSocket: boolean }>();
  const server = createServer((client) => {
    client.on('error', () => {});
    const upstream = connect(Number(target.port), target.hostname);
    const pair = { client, upstream, webSocket: false };
    pairs.add(pair);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      client.destroy();
      pairs.delete(pair);
    });
    client.on('close', () => upstream.destroy());
    // an upgrade may come on a kept-alive connection (undici's WebSocket reuses its pool): each
    // chunk a client writes is looked at, until the connection has become a WebSocket
    client.on('data', (chunk: Buffer) => {
      if (!pair.webSocket && /^upgrade:\s*websocket/im.test(chunk.toString('latin1'))) {
        proxy.upgrades += 1;
        if (proxy.refuseUpgrades) {
          proxy.refused += 1;
          client.destroy();
          return;
        }
        pair.webSocket = true;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const drop = (which: (pair: { webSocket: boolean }) => boolean) => {
    let dropped = 0;
    for (const pair of pairs) {
      if (!which(pair)) continue;
      pair.upstream.destroy();
      pair.client.destroy();
      dropped += 1;
    }
    return dropped;
  };
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    upgrades: 0,
    refused: 0,
    refuseUpgrades: false,
    dropWebSockets: () => drop((pair) => pair.webSocket),
    dropAll: () => drop(() => true),
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { MirrorCache } from './cache/mirror.js';
import type { Config } from './config.js';
import { formatHost, parseListen } from './listen.js';
import { openStorage } from './storage/open.js';
import { UpstreamRouter } from './upstream/routing.js';

export interface RunningServer {
  server: Server;
  mirror: MirrorCache;
  /** e.g. http://127.0.0.1:5000 */
  url: string;
  /** Stops accepting, lets in-flight responses finish for up to `graceMs`, then aborts the rest. */
  close(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  /** The clock for tag TTLs and access times; tests move it. */
  now?: () => number;
}

export async function startServer(config: Config, log: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  const storage = await openStorage(config.storage);
  const router = new UpstreamRouter(config.upstreams);
  const mirror = await MirrorCache.open(storage, router, log, config.cache, options.now);
  const app = createApp(mirror, log);
  const server = createServer(app.callback());
  // Slowloris bound: headers must arrive promptly. No overall request timeout: a multi-GB blob
  // download to a slow client legitimately takes long.
  server.headersTimeout = 20_000;
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;
  const { host, port } = parseListen(config.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: false }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${formatHost(host === '::' || host === '0.0.0.0' ? 'localhost' : host)}:${address.port}`;

  return {
    server,
    mirror,
    url,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        mirror.blobs.abortAll(new Error('server shutting down'));
        server.closeAllConnections();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      await mirror.close();
      await router.close();
    },
  };
}

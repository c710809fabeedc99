import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './config.js';
import { osErrorText } from './storage/os-error.js';

/** `host:port`, `[v6]:port` or `:port` → where to listen. `[::]` (the default) is dual stack. */
export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(value: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid listen address ${JSON.stringify(value)}: use host:port, [v6]:port or :port`);
  return { host: m[1] ?? (m[2] || '::'), port };
}

/** The address as a URL host part: brackets around IPv6. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** A server for `handler`: HTTPS when TLS files are configured, plain HTTP otherwise. */
export function createListener(handler: RequestListener, tls?: { cert: string; key: string }): HttpServer | HttpsServer {
  if (!tls) return createHttpServer(handler);
  return createHttpsServer({ cert: readPem(tls.cert, 'tls.cert'), key: readPem(tls.key, 'tls.key') }, handler);
}

/**
 * Listens on `address` and resolves with the URL clients can use. `[::]` accepts IPv4 too
 * (ipv6Only false), so one socket serves 127.0.0.1 and ::1.
 */
export async function listenOn(server: HttpServer | HttpsServer, address: string): Promise<string> {
  const { host, port } = parseListen(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: false }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return `${scheme}://${formatHost(host === '::' || host === '0.0.0.0' ? 'localhost' : host)}:${bound}`;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`invalid config: ${key}: ${osErrorText(err)}`);
  }
}

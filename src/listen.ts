import { readFileSync } from 'node:fs';
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError } from './config.js';
import { errorBody, type ErrorCode } from './oci/errors.js';
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

/** Koa's `app.callback()`: it answers every error itself (ctx.onerror), so its promise never rejects. */
type AppCallback = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * A server for `callback`: HTTPS when TLS files are configured, plain HTTP otherwise. Headers must
 * be complete within `headersTimeout` (slowloris bound); requests Node's parser refuses are answered
 * with OCI error JSON like every other refusal.
 */
export function createListener(callback: AppCallback, tls?: { cert: string; key: string }, headersTimeout = 20_000): HttpServer | HttpsServer {
  const handler = (req: IncomingMessage, res: ServerResponse) => void callback(req, res);
  // Node enforces headersTimeout only when it sweeps connections, every connectionsCheckingInterval
  // (default 30 s): sweep often enough that the configured bound is the one that holds.
  const options = { headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headersTimeout / 4))) };
  const server = tls
    ? createHttpsServer({ ...options, cert: readPem(tls.cert, 'tls.cert'), key: readPem(tls.key, 'tls.key') }, handler)
    : createHttpServer(options, handler);
  server.on('clientError', answerClientError);
  return server;
}

const CLIENT_ERRORS: Record<string, [number, ErrorCode, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'request headers not received in time'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'request headers too large'],
};

/**
 * What Node does for a request it cannot parse (or whose headers time out), with an OCI error body:
 * answer only if no response has started on the socket, then close it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inflight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inflight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'BAD_REQUEST', 'malformed HTTP request'];
  const body = errorBody(code, message);
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  socket.end(head + body, () => socket.destroy());
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

/** A PEM file named in the config; an unreadable one is a ConfigError naming its key. */
export function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`invalid config: ${key}: ${osErrorText(err)}`);
  }
}

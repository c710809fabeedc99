import { rootCertificates } from 'node:tls';
import { EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config.js';
import { readPem } from '../listen.js';

/**
 * What undici buffers of a body before it pauses the socket (its default is 64 KiB): with more,
 * a blob's socket stays readable while the mirror hashes and writes the last chunk, and a 500 MiB
 * read (with hashing) took about 25% less time here.
 */
export const BODY_BUFFER_BYTES = 1024 * 1024;

/**
 * The connection pool for one upstream: its timeouts, and the way out. A `proxy` set on the
 * upstream carries all its requests; otherwise HTTPS_PROXY, HTTP_PROXY and NO_PROXY (either case)
 * apply as curl applies them, through undici's own EnvHttpProxyAgent, which connects directly when
 * none is set. Proxy credentials (`http://user:pw@proxy:3128`) go in Proxy-Authorization only.
 */
export function upstreamDispatcher(config: UpstreamConfig): Dispatcher {
  // Direct connections take `connect`; connections tunnelled through a proxy take `requestTls`.
  const connect = { timeout: config.timeouts.connect, ...tlsOptions(config) };
  const options = {
    connect,
    requestTls: connect,
    proxyTls: { timeout: config.timeouts.connect },
    headersTimeout: config.timeouts.headers,
    bodyTimeout: config.timeouts.body,
    keepAliveTimeout: 30_000,
  };
  if (config.proxy) return new ProxyAgent({ ...options, uri: config.proxy });
  return new EnvHttpProxyAgent(options);
}

/** The upstream's TLS settings as Node's TLS options, files read now (an unreadable one stops the start). */
function tlsOptions({ name, tls }: UpstreamConfig): { ca?: Buffer[]; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } {
  if (!tls) return {};
  const key = (k: string) => `upstreams.${name}.tls.${k}`;
  return {
    // Node's `ca` replaces the system store: keep it, so a private CA is trusted besides the public ones.
    ...(tls.ca ? { ca: [...rootCertificates.map((c) => Buffer.from(c)), readPem(tls.ca, key('ca'))] } : {}),
    ...(tls.cert && tls.key ? { cert: readPem(tls.cert, key('cert')), key: readPem(tls.key, key('key')) } : {}),
    ...(tls.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
  };
}

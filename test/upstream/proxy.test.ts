import { randomBytes } from 'node:crypto';
import { captureLog } from '../observability/capture-log.js';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { startForwardProxy, type ForwardProxy } from './forward-proxy.js';

const PROXY_VARS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];

/**
 * The proxy variables for this test alone, restored after it. undici reads the proxy ones when the
 * pool is made and NO_PROXY on each request, so they stay set for the whole test.
 */
let saved: Record<string, string | undefined> = {};
function setProxyEnv(vars: Record<string, string>): void {
  saved = Object.fromEntries(PROXY_VARS.map((n) => [n, process.env[n]]));
  // Unset (process.env stores an assigned undefined as the string "undefined").
  for (const n of PROXY_VARS) Reflect.deleteProperty(process.env, n);
  Object.assign(process.env, vars);
}
function restoreProxyEnv(): void {
  for (const n of PROXY_VARS) {
    if (saved[n] === undefined) Reflect.deleteProperty(process.env, n);
    else process.env[n] = saved[n];
  }
}

/** Pulls a manifest and its layer through the mirror: registry, token service and CDN all take part. */
async function pull(m: MirrorUnderTest): Promise<void> {
  const layer = randomBytes(50_000);
  const image = m.hub.addImage('library/app', '1', { layers: [layer] });
  expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
  expect((await m.get(`/v2/library/app/blobs/${image.layers[0]}`)).body.equals(layer)).toBe(true);
}

const hostOf = (url: string) => new URL(url).host;

describe('outbound proxy', () => {
  let m: MirrorUnderTest;
  let proxy: ForwardProxy;
  beforeEach(async () => {
    proxy = await startForwardProxy();
  });
  afterEach(async () => {
    await m.close();
    await proxy.close();
    restoreProxyEnv();
  });

  test('HTTP_PROXY with credentials carries every upstream request (registry, token service, CDN); the password is in no log line and no metric', async () => {
    const captured = captureLog('debug');
    const withCredentials = proxy.url.replace('http://', 'http://proxyuser:s3cret-pw@');
    setProxyEnv({ HTTP_PROXY: withCredentials });
    m = await startMirror({ log: captured.log, config: { log: { level: 'debug' } } });
    await pull(m);
    expect(new Set(proxy.tunnels)).toEqual(new Set([hostOf(m.hub.url), hostOf(m.hub.authUrl), hostOf(m.hub.cdnUrl)]));
    expect(m.hub.requests.length).toBeGreaterThan(0);
    expect(proxy.authorizations.every((a) => a === `Basic ${Buffer.from('proxyuser:s3cret-pw').toString('base64')}`)).toBe(true);
    const metrics = (await m.get('/metrics')).body.toString();
    expect(JSON.stringify(captured.lines)).not.toContain('s3cret');
    expect(metrics).not.toContain('s3cret');
  });

  test('NO_PROXY: hosts named there are reached directly, no proxy connection at all', async () => {
    setProxyEnv({ HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
    m = await startMirror();
    await pull(m);
    expect(proxy.connections).toBe(0);
  });

  test('lower-case http_proxy is honoured too', async () => {
    setProxyEnv({ http_proxy: proxy.url });
    m = await startMirror();
    await pull(m);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
  });

  test('an upstream `proxy` carries its requests with no proxy variables set; a proxy that is down is a 503 without its credentials', async () => {
    setProxyEnv({});
    m = await startMirror({ upstream: { proxy: proxy.url } });
    await pull(m);
    expect(new Set(proxy.tunnels)).toEqual(new Set([hostOf(m.hub.url), hostOf(m.hub.authUrl), hostOf(m.hub.cdnUrl)]));
    await m.close();

    const down = proxy.url.replace('http://', 'http://u:hidden-pw@');
    await proxy.close();
    m = await startMirror({ upstream: { proxy: down } });
    m.hub.addImage('library/app', '1');
    const res = await m.get('/v2/library/app/manifests/1');
    expect(res.status).toBe(503);
    expect(res.body.toString()).not.toContain('hidden-pw');
    proxy = await startForwardProxy(); // for afterEach
  });
});

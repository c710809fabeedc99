import { pino } from 'pino';
import { configSchema } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { captureLog } from '../observability/capture-log.js';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { startForwardProxy } from './forward-proxy.js';
import { makePki, startTlsRegistry, type TestPki, type TlsRegistry } from './tls-registry.js';

/** An upstream over TLS with a CA the test made: trusted with `ca`, mutual TLS with `cert`/`key`, refused otherwise. */
describe('upstream TLS settings', () => {
  let pki: TestPki;
  let registry: TlsRegistry;
  let m: MirrorUnderTest | undefined;
  beforeAll(async () => {
    pki = await makePki();
  });
  afterAll(async () => pki.remove());
  afterEach(async () => {
    await m?.close();
    m = undefined;
    await registry.close();
  });

  const mirrorOf = (tls?: Record<string, unknown>, more: Parameters<typeof startMirror>[0] = {}) =>
    startMirror({ ...more, upstream: { url: registry.url, ...(tls ? { tls } : {}) } });

  test('a private CA is refused without `ca`, and nothing reaches the registry; with `ca` the pull works', async () => {
    registry = await startTlsRegistry(pki);
    m = await mirrorOf();
    const refused = await m.get('/v2/library/app/manifests/1');
    expect(refused.status).toBe(503);
    expect(json(refused.body).errors[0].message).toMatch(/certificate/i);
    expect(registry.requests).toBe(0);
    await m.close();

    m = await mirrorOf({ ca: pki.ca });
    const res = await m.get('/v2/library/app/manifests/1');
    expect(res.status).toBe(200);
    expect(res.body.equals(registry.manifest)).toBe(true);
  });

  test('mutual TLS: without a client certificate the handshake fails; with cert and key it passes', async () => {
    registry = await startTlsRegistry(pki, { requireClientCert: true });
    m = await mirrorOf({ ca: pki.ca });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(503);
    expect(registry.requests).toBe(0);
    await m.close();

    m = await mirrorOf({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
    expect((await m.get('/v2/library/app/manifests/1')).body.equals(registry.manifest)).toBe(true);
  });

  test('insecureSkipVerify: the pull works without the CA, with a warning at start and on /readyz', async () => {
    registry = await startTlsRegistry(pki);
    const captured = captureLog();
    m = await mirrorOf({ insecureSkipVerify: true }, { log: captured.log });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    expect(captured.lines.filter((l) => l.level === 40 && /NOT verified/.test(l.msg))).toHaveLength(1);
    const check = json((await m.get('/readyz')).body).checks.find((c: { name: string }) => c.name === 'upstream docker.io');
    expect(check).toMatchObject({ ok: true, warning: expect.stringMatching(/insecureSkipVerify/) });
  });

  test('HTTPS_PROXY: the TLS upstream is reached through a CONNECT tunnel, verified with `ca`', async () => {
    registry = await startTlsRegistry(pki);
    const proxy = await startForwardProxy();
    const saved = process.env.HTTPS_PROXY;
    process.env.HTTPS_PROXY = proxy.url;
    try {
      m = await mirrorOf({ ca: pki.ca });
      expect((await m.get('/v2/library/app/manifests/1')).body.equals(registry.manifest)).toBe(true);
      expect(proxy.tunnels).toEqual([new URL(registry.url).host]);
    } finally {
      if (saved === undefined) delete process.env.HTTPS_PROXY;
      else process.env.HTTPS_PROXY = saved;
      await m?.close();
      m = undefined;
      await proxy.close();
    }
  });

  test('an unreadable `ca` stops the start, naming the key', async () => {
    registry = await startTlsRegistry(pki);
    const config = configSchema.parse({
      listen: '127.0.0.1:0',
      storage: { driver: 'filesystem', filesystem: { root: pki.dir } },
      upstreams: [{ name: 'docker.io', url: registry.url, tls: { ca: `${pki.dir}/missing.pem` } }],
    });
    await expect(startServer(config, pino({ level: 'silent' }))).rejects.toThrow(/invalid config: upstreams\.docker\.io\.tls\.ca: .*no such file/);
  });

  test('cert without key is a config error', () => {
    expect(() => configSchema.parse({ upstreams: [{ name: 'docker.io', url: 'https://x', tls: { cert: '/c.pem' } }] })).toThrow(/set cert and key together/);
  });
});

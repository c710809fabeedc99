import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { pino } from 'pino';
import { configSchema } from '../src/config.js';
import { parseListen } from '../src/listen.js';
import { startServer } from '../src/server.js';
import { startMirror, type MirrorUnderTest } from './api/mirror-harness.js';

async function status(url: string, dispatcher?: Agent): Promise<number> {
  const res = await request(url, dispatcher ? { dispatcher } : {});
  await res.body.dump();
  return res.statusCode;
}

const portOf = (m: MirrorUnderTest) => (m.server.server.address() as { port: number }).port;

describe('listen addresses', () => {
  test.each([
    ['0.0.0.0:5000', { host: '0.0.0.0', port: 5000 }],
    ['mirror.local:80', { host: 'mirror.local', port: 80 }],
    ['[::1]:5000', { host: '::1', port: 5000 }],
    ['[::]:5000', { host: '::', port: 5000 }],
    [':5000', { host: '::', port: 5000 }],
  ])('%s', (value, expected) => expect(parseListen(value)).toEqual(expected));

  test.each(['5000', '::1:5000', 'host:', '[::1]', 'host:70000'])('%s is refused', (value) => {
    expect(() => parseListen(value)).toThrow(/invalid listen address .*: use host:port, \[v6\]:port or :port/);
  });
});

describe('listening', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('[::] is dual stack: IPv4 and IPv6 loopback both reach the mirror', async () => {
    m = await startMirror({ config: { listen: '[::]:0' } });
    expect(m.server.url).toBe(`http://localhost:${portOf(m)}`);
    expect(await status(`http://127.0.0.1:${portOf(m)}/v2/`)).toBe(200);
    expect(await status(`http://[::1]:${portOf(m)}/v2/`)).toBe(200);
  });

  test(':port means every address, like [::]', async () => {
    m = await startMirror({ config: { listen: ':0' } });
    expect(await status(`http://127.0.0.1:${portOf(m)}/v2/`)).toBe(200);
    expect(await status(`http://[::1]:${portOf(m)}/v2/`)).toBe(200);
  });

  test('[::1]:port listens on IPv6 loopback only', async () => {
    m = await startMirror({ config: { listen: '[::1]:0' } });
    expect(m.server.url).toBe(`http://[::1]:${portOf(m)}`);
    expect(await status(`${m.server.url}/v2/`)).toBe(200);
    await expect(status(`http://127.0.0.1:${portOf(m)}/v2/`)).rejects.toThrow();
  });
});

describe('TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let m: MirrorUnderTest | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-tls-'));
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    // A self-signed certificate for every loopback name the tests use (Debian's openssl).
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
  });
  afterEach(async () => {
    await m?.close();
    m = undefined;
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  test('tls.cert and tls.key serve HTTPS on IPv4 and IPv6, verified against the certificate', async () => {
    m = await startMirror({ config: { listen: '[::]:0', tls: { cert, key } } });
    expect(m.server.url).toBe(`https://localhost:${portOf(m)}`);
    const trusting = new Agent({ connect: { ca: await readFile(cert) } });
    try {
      expect(await status(`https://127.0.0.1:${portOf(m)}/v2/`, trusting)).toBe(200);
      expect(await status(`https://[::1]:${portOf(m)}/v2/`, trusting)).toBe(200);
      expect(await status(`https://localhost:${portOf(m)}/healthz`, trusting)).toBe(200);
    } finally {
      await trusting.close();
    }
    // An untrusted client refuses it, as it should.
    await expect(status(`https://127.0.0.1:${portOf(m)}/v2/`)).rejects.toThrow(/self[- ]signed/i);
  });

  test('an unreadable certificate fails at start, naming the key', async () => {
    const config = configSchema.parse({
      listen: '127.0.0.1:0',
      storage: { driver: 'filesystem', filesystem: { root: join(dir, 'storage') } },
      tls: { cert: join(dir, 'missing.pem'), key },
    });
    await expect(startServer(config, pino({ level: 'silent' }))).rejects.toThrow(
      `invalid config: tls.cert: open ${join(dir, 'missing.pem')}: no such file or directory`,
    );
  });
});

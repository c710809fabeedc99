import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { pino } from 'pino';
import { configSchema } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { captureLog, linesMatching, type CapturedLog } from '../observability/capture-log.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const TOKEN = 'ci-token-7f3a9c1e5b2d4f60';
const ALICE = basic('alice', 'wonderland');

/** `auth:` on, as `docker login` / `podman login` and containerd's static headers meet it. */
describe('client authentication for the mirror', () => {
  let dir: string;
  let m: MirrorUnderTest;
  let captured: CapturedLog;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-mirror-auth-'));
    await writeFile(join(dir, 'htpasswd'), `alice:${bcrypt.hashSync('wonderland', 4)}\n`);
    await writeFile(join(dir, 'tokens'), `${TOKEN}\n`);
    captured = captureLog('info');
    m = await startMirror({ log: captured.log, config: { auth: { htpasswd: join(dir, 'htpasswd'), tokensFile: join(dir, 'tokens') } } });
    m.hub.addImage('library/app', '1');
  });
  afterAll(async () => {
    await m.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => m.hub.resetCounts());

  test.each(['/v2/', '/v2/_catalog', '/v2/library/app/manifests/1', '/v2/library/app/tags/list', `/v2/library/app/blobs/sha256:${'a'.repeat(64)}`, '/metrics'])(
    'GET %s without credentials: 401 UNAUTHORIZED with WWW-Authenticate: Basic realm="pullthrough", before any upstream request',
    async (path) => {
      const res = await m.get(path);
      expect([res.status, json(res.body).errors[0].code]).toEqual([401, 'UNAUTHORIZED']);
      expect(res.headers['www-authenticate']).toBe('Basic realm="pullthrough"');
      expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
      expect(m.hub.requests).toEqual([]);
    },
  );

  test('HEAD without credentials: 401 with the challenge and no body', async () => {
    const res = await fetch(`${m.url}/v2/library/app/manifests/1`, { method: 'HEAD' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="pullthrough"');
  });

  test('/healthz and /readyz stay open for probes', async () => {
    expect((await m.get('/healthz')).status).toBe(200);
    expect((await m.get('/readyz')).status).toBe(200);
  });

  test('the docker login flow: GET /v2/ → 401 → the same with Basic → 200; then a pull, logged with the user', async () => {
    expect((await m.get('/v2/')).status).toBe(401);
    expect((await m.get('/v2/', { authorization: ALICE })).status).toBe(200);
    const pulled = await m.get('/v2/library/app/manifests/1', { authorization: ALICE });
    expect(pulled.status).toBe(200);
    const [line] = await linesMatching(captured, (l) => l.msg === 'request' && l.path === '/v2/library/app/manifests/1' && l.status === 200, 1);
    expect(line).toMatchObject({ user: 'alice' });
    expect(JSON.stringify(captured.lines)).not.toContain('wonderland');
  });

  test('a static bearer token, and the same token as a `docker login` password', async () => {
    expect((await m.get('/v2/library/app/manifests/1', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await m.get('/v2/', { authorization: basic('ci', TOKEN) })).status).toBe(200);
    expect((await m.get('/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  test.each([
    ['a wrong password', basic('alice', 'wrong')],
    ['an unknown user', basic('mallory', 'wonderland')],
    ['a wrong token', 'Bearer not-the-token-at-all-123'],
    ['a malformed header', 'Basic %%%'],
  ])('%s: 401 with the challenge, no upstream request', async (_name, authorization) => {
    const res = await m.get('/v2/library/app/manifests/1', { authorization });
    expect([res.status, json(res.body).errors[0]]).toEqual([401, { code: 'UNAUTHORIZED', message: 'invalid credentials' }]);
    expect(res.headers['www-authenticate']).toBe('Basic realm="pullthrough"');
    expect(m.hub.requests).toEqual([]);
  });

  test('parameters are checked before authentication: a malformed name is 400, a write 405, whoever asks', async () => {
    const bad = await m.getRaw('/v2/library/../etc/manifests/1');
    expect([bad.status, json(bad.body).errors[0].code]).toEqual([400, 'NAME_INVALID']);
    const write = await fetch(`${m.url}/v2/library/app/manifests/1`, { method: 'PUT' });
    expect(write.status).toBe(405);
  });

  test('a bad htpasswd file fails the start, naming the key', async () => {
    const config = configSchema.parse({
      listen: '127.0.0.1:0',
      storage: { driver: 'filesystem', filesystem: { root: join(dir, 'never') } },
      auth: { htpasswd: join(dir, 'missing') },
    });
    await expect(startServer(config, pino({ level: 'silent' }))).rejects.toThrow(
      /^invalid config: auth\.htpasswd: open \S+missing: no such file or directory$/,
    );
  });
});

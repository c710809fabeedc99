import { json, startMirror, type MirrorUnderTest } from './mirror-harness.js';

interface ReadyBody {
  status: string;
  checks: { name: string; target: string; ok: boolean; ms: number; error?: string }[];
}

async function readyz(m: MirrorUnderTest): Promise<{ status: number; body: ReadyBody }> {
  const res = await m.get('/readyz');
  return { status: res.status, body: json(res.body) as ReadyBody };
}

const upstream = (body: ReadyBody) => body.checks.find((c) => c.name === 'upstream docker.io')!;

describe('/healthz and /readyz', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('all well: 200 ok, one entry per check with its latency; the upstream check fetches a token', async () => {
    m = await startMirror();
    expect((await m.get('/healthz')).status).toBe(200);
    const { status, body } = await readyz(m);
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.checks).toEqual([
      { name: 'storage', target: `filesystem ${m.root}`, ok: true, ms: expect.any(Number) },
      { name: 'upstream docker.io', target: m.hub.url, ok: true, ms: expect.any(Number) },
    ]);
    // Auth was exercised, with no scope: nothing pulled, nothing counted against the rate limit.
    expect(m.hub.count({ role: 'auth', kind: 'token', status: 200 })).toBe(1);
    expect(m.hub.count({ kind: 'base', status: 200 })).toBe(1);
    expect(m.hub.count({ kind: 'manifest' })).toBe(0);
  });

  test('upstream down: 200 degraded with the connection error; storage still ok', async () => {
    m = await startMirror();
    await m.hub.stop();
    const { status, body } = await readyz(m);
    expect(status).toBe(200);
    expect(body.status).toBe('degraded');
    expect(body.checks[0]!.ok).toBe(true);
    expect(upstream(body)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^upstream docker\.io unreachable \(GET \/v2\/\): .*(ECONNREFUSED|refused)/i),
    });
    await m.hub.restart();
  });

  test('wrong credentials: degraded, and the error names the token service answer', async () => {
    m = await startMirror({ hub: { credentials: { username: 'ci', password: 'right' } }, upstream: { username: 'ci', password: 'wrong' } });
    const { status, body } = await readyz(m);
    expect(status).toBe(200);
    expect(upstream(body).error).toMatch(/answered 401 \(token service 127\.0\.0\.1:\d+\)/);
    expect(JSON.stringify(body)).not.toContain('wrong');
  });

  test('right credentials on a Basic upstream: ok; none configured: the error says so', async () => {
    m = await startMirror({ hub: { auth: 'basic', credentials: { username: 'ci', password: 'pw' } }, upstream: { username: 'ci', password: 'pw' } });
    expect((await readyz(m)).body.status).toBe('ok');
    await m.close();
    m = await startMirror({ hub: { auth: 'basic', credentials: { username: 'ci', password: 'pw' } } });
    expect(upstream((await readyz(m)).body).error).toBe('upstream docker.io: GET /v2/ asks for Basic credentials and none are configured');
  });

  test('a 401 Bearer challenge without realm is an error, not "reachable"', async () => {
    m = await startMirror({ hub: { auth: 'none' } });
    m.hub.fault({ kind: 'status', match: { kind: 'base' }, status: 401, headers: { 'WWW-Authenticate': 'Bearer service="registry.docker.io"' } });
    const { body } = await readyz(m);
    expect(body.status).toBe('degraded');
    expect(upstream(body).error).toBe('upstream docker.io: GET /v2/ answered 401 with a Bearer challenge without realm');
  });

  test('an upstream 5xx on /v2/ degrades with its status', async () => {
    m = await startMirror();
    m.hub.fault({ kind: 'status', match: { kind: 'base' }, status: 503 });
    m.hub.fault({ kind: 'tokenDown' });
    const { body } = await readyz(m);
    expect(upstream(body).error).toMatch(/answered 503/);
  });
});

import { json, startMirror, type MirrorUnderTest } from './mirror-harness.js';

describe('API surface', () => {
  let m: MirrorUnderTest;
  beforeAll(async () => {
    m = await startMirror();
  });
  afterAll(async () => m.close());

  test('GET /v2/ answers 200 {} with the API version header', async () => {
    const res = await m.get('/v2/');
    expect(res.status).toBe(200);
    expect(json(res.body)).toEqual({});
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  test.each([
    ['/v2/Library/Alpine/manifests/latest', 'NAME_INVALID', 400],
    ['/v2/library/..%2f../manifests/latest', 'NAME_INVALID', 400],
    ['/v2/library/%2e%2e/manifests/latest', 'NAME_INVALID', 400],
    [`/v2/${'a'.repeat(300)}/manifests/latest`, 'NAME_INVALID', 400],
    ['/v2/library/alpine/manifests/bad!tag', 'MANIFEST_UNKNOWN', 404],
    ['/v2/library/alpine/manifests/sha256:1234', 'DIGEST_INVALID', 400],
    ['/v2/library/alpine/tags/list?n=-1', 'PAGINATION_NUMBER_INVALID', 400],
    ['/v2/evil.example/x/manifests/latest', 'NAME_UNKNOWN', 404],
    ['/v2/x/manifests/latest?ns=169.254.169.254', 'NAME_UNKNOWN', 404],
    ['/nothing/here', 'NOT_FOUND', 404],
  ])('%s → %s', async (path, code, status) => {
    const res = await m.getRaw(path);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(json(res.body).errors[0].code).toBe(code);
    expect(res.body.toString()).not.toMatch(/at .*\.ts:\d+/);
  });

  test.each(['PUT', 'POST', 'PATCH', 'DELETE'])('%s → 405 UNSUPPORTED', async (method) => {
    const res = await fetch(`${m.url}/v2/library/alpine/manifests/latest`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await res.json()).errors[0].code).toBe('UNSUPPORTED');
  });

  test('OPTIONS on a route lists what it allows', async () => {
    const res = await fetch(`${m.url}/v2/library/alpine/manifests/latest`, { method: 'OPTIONS' });
    expect(res.status).toBe(200);
    expect(res.headers.get('allow')).toBe('HEAD, GET');
  });

  test('blob upload endpoints are 405 UNSUPPORTED even for GET', async () => {
    const res = await m.get('/v2/library/alpine/blobs/uploads/');
    expect(res.status).toBe(405);
  });

  test('tags pass through with n, last and a Link to the next page', async () => {
    for (const tag of ['1', '2', '3']) m.hub.addImage('library/tagged', tag);
    const first = await m.get('/v2/tagged/tags/list?n=2');
    expect(json(first.body)).toEqual({ name: 'tagged', tags: ['1', '2'] });
    expect(first.headers.link).toBe('</v2/tagged/tags/list?n=2&last=2>; rel="next"');
    const second = await m.get('/v2/tagged/tags/list?n=2&last=2');
    expect(json(second.body).tags).toEqual(['3']);
    expect(second.headers.link).toBeUndefined();
  });

  test('tags fall back to the cached ones when upstream is down', async () => {
    m.hub.addImage('library/offline', 'a');
    m.hub.addImage('library/offline', 'b');
    await m.get('/v2/library/offline/manifests/a');
    await m.hub.stop();
    try {
      const res = await m.get('/v2/library/offline/tags/list');
      expect(json(res.body).tags).toEqual(['a']);
    } finally {
      await m.hub.restart();
    }
  });

  test('_catalog lists what is cached, paginated', async () => {
    m.hub.addImage('library/cat-a', '1');
    m.hub.addImage('org/cat-b', '1');
    await m.get('/v2/cat-a/manifests/1');
    await m.get('/v2/org/cat-b/manifests/1');
    const all = json((await m.get('/v2/_catalog')).body).repositories as string[];
    expect(all).toEqual(expect.arrayContaining(['library/cat-a', 'org/cat-b']));
    expect([...all].sort()).toEqual(all);
    const page = await m.get('/v2/_catalog?n=1');
    expect(json(page.body).repositories).toHaveLength(1);
    expect(page.headers.link).toMatch(/rel="next"/);
  });

  test('/healthz and /readyz', async () => {
    expect((await m.get('/healthz')).status).toBe(200);
    const ready = await m.get('/readyz');
    expect(ready.status).toBe(200);
    expect(json(ready.body).status).toBe('ok');
  });
});

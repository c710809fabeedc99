import { json, startMirror, type MirrorUnderTest } from './mirror-harness.js';

describe('upstream authentication', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('configured credentials go to the token service as Basic; the registry sees only the bearer token', async () => {
    m = await startMirror({ hub: { credentials: { username: 'ci', password: 's3cret' } }, upstream: { username: 'ci', password: 's3cret' } });
    m.hub.addImage('library/private', '1');
    expect((await m.get('/v2/library/private/manifests/1')).status).toBe(200);
    const token = m.hub.requests.find((r) => r.kind === 'token')!;
    expect(token.authorization).toBe(`Basic ${Buffer.from('ci:s3cret').toString('base64')}`);
    expect(m.hub.requests.filter((r) => r.role === 'registry' && r.status === 200).every((r) => r.authorization?.startsWith('Bearer '))).toBe(true);
  });

  test("wrong credentials: 401 UNAUTHORIZED with the token service's own message, not a crash or an outage", async () => {
    m = await startMirror({ hub: { credentials: { username: 'ci', password: 's3cret' } }, upstream: { username: 'ci', password: 'wrong' } });
    m.hub.addImage('library/private', '1');
    const res = await m.get('/v2/library/private/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([401, 'UNAUTHORIZED']);
    expect(json(res.body).errors[0].message).toMatch(/answered 401 \(token service [^)]+\): incorrect username or password$/);
    // Not the mirror's own login challenge: the client has nothing to answer.
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  // Docker Hub answers a repository that does not exist, or is private and not granted, with 401
  // insufficient_scope even after a fresh token; distribution's proxy makes that 404 NAME_UNKNOWN.
  test('a repository the Hub does not have: 404 NAME_UNKNOWN after one fresh token, remembered like a missing tag', async () => {
    m = await startMirror();
    m.hub.addImage('library/alpine', '1');
    const res = await m.get('/v2/library/alpnie/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([404, 'NAME_UNKNOWN']);
    expect(json(res.body).errors[0].message).toBe(
      "repository library/alpnie not found upstream docker.io, or it is private and the mirror's credentials do not grant pull on it: authentication required",
    );
    const refusals = m.hub.requests.filter((r) => r.kind === 'manifest');
    expect(refusals.map((r) => r.status)).toEqual([401, 401]);
    expect(m.hub.count({ kind: 'token' })).toBe(1);
    // Within notFoundTTL the answer is the same without asking again.
    m.hub.resetCounts();
    expect(json((await m.get('/v2/library/alpnie/manifests/1')).body).errors[0].code).toBe('NAME_UNKNOWN');
    expect(m.hub.count({ role: 'registry' })).toBe(0);
    // Blobs and tags of it are not found either (never "unavailable").
    for (const path of [`blobs/sha256:${'a'.repeat(64)}`, 'tags/list']) {
      const r = await m.get(`/v2/library/alpnie/${path}`);
      expect([r.status, json(r.body).errors[0].code]).toEqual([404, 'NAME_UNKNOWN']);
    }
    // An unknown tag of a repository that exists stays MANIFEST_UNKNOWN.
    const tag = await m.get('/v2/library/alpine/manifests/nope');
    expect([tag.status, json(tag.body).errors[0].code]).toEqual([404, 'MANIFEST_UNKNOWN']);
  });

  test('a private repository: NAME_UNKNOWN without credentials, pulled with the right ones', async () => {
    m = await startMirror();
    m.hub.addImage('acme/secret', '1');
    m.hub.makePrivate('acme/secret');
    const res = await m.get('/v2/acme/secret/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([404, 'NAME_UNKNOWN']);
    expect(json(res.body).errors[0].message).toMatch(/not found upstream docker\.io, or it is private/);
    await m.close();

    m = await startMirror({ hub: { credentials: { username: 'ci', password: 's3cret' } }, upstream: { username: 'ci', password: 's3cret' } });
    m.hub.addImage('acme/secret', '1');
    m.hub.makePrivate('acme/secret');
    expect((await m.get('/v2/acme/secret/manifests/1')).status).toBe(200);
  });

  test('a token cached before the repository existed: one fresh token, then the pull works', async () => {
    m = await startMirror();
    expect((await m.get('/v2/library/late/manifests/1')).status).toBe(404);
    m.hub.addImage('library/late', '2');
    expect((await m.get('/v2/library/late/manifests/2')).status).toBe(200);
  });

  test('a token service that answers something other than JSON: 503 naming it, not a 500; a cached tag is served', async () => {
    m = await startMirror({ upstream: { tagTTL: '0s', tagRevalidation: 'wait' } });
    const image = m.hub.addImage('library/t', '1');
    expect((await m.get('/v2/library/t/manifests/1')).status).toBe(200);
    m.hub.expireTokens();
    m.hub.fault({ kind: 'status', match: { role: 'auth' }, status: 200, headers: { 'Content-Type': 'text/html' }, body: '<html>maintenance</html>' });
    const stale = await m.get('/v2/library/t/manifests/1');
    expect([stale.status, stale.body.equals(image.manifest)]).toEqual([200, true]);
    const res = await m.get('/v2/library/t/manifests/2');
    expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
    expect(json(res.body).errors[0].message).toMatch(/token service [^ ]+ answered with a body that is not JSON/);
  });

  test('a registry that takes Basic credentials itself', async () => {
    m = await startMirror({ hub: { auth: 'basic', credentials: { username: 'u', password: 'p' } }, upstream: { username: 'u', password: 'p' } });
    m.hub.addImage('library/basic', '1');
    expect((await m.get('/v2/library/basic/manifests/1')).status).toBe(200);
    expect(m.hub.count({ kind: 'token' })).toBe(0);
  });

  test('tokens are cached per scope, and an expired one is replaced on the 401', async () => {
    m = await startMirror();
    m.hub.addImage('library/a', '1');
    m.hub.addImage('library/a', '2');
    m.hub.addImage('library/b', '1');
    await m.get('/v2/library/a/manifests/1');
    await m.get('/v2/library/a/manifests/2');
    expect(m.hub.count({ kind: 'token' })).toBe(1);
    await m.get('/v2/library/b/manifests/1');
    expect(m.hub.count({ kind: 'token' })).toBe(2);
    m.hub.expireTokens();
    expect((await m.get('/v2/library/a/manifests/1?fresh')).status).toBe(200); // served from cache: no token needed
    m.hub.addImage('library/a', '3');
    expect((await m.get('/v2/library/a/manifests/3')).status).toBe(200);
    expect(m.hub.count({ kind: 'token' })).toBe(3);
  });

  test('token service down with nothing cached: 503 naming the token service', async () => {
    m = await startMirror();
    m.hub.addImage('library/t', '1');
    m.hub.fault({ kind: 'tokenDown' });
    const res = await m.get('/v2/library/t/manifests/1');
    expect(res.status).toBe(503);
    expect(json(res.body).errors[0].message).toMatch(/token service/);
  });
});

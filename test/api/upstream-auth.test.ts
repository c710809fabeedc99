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

  test('wrong credentials: the upstream refusal is a clear 503, not a crash', async () => {
    m = await startMirror({ hub: { credentials: { username: 'ci', password: 's3cret' } }, upstream: { username: 'ci', password: 'wrong' } });
    m.hub.addImage('library/private', '1');
    const res = await m.get('/v2/library/private/manifests/1');
    expect(res.status).toBe(503);
    expect(json(res.body).errors[0].message).toMatch(/answered 401 \(token service/);
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

// containerd resolves a tag with a HEAD, then fetches the manifest by digest. The mirror must
// remember what the HEAD told it (tag → digest), or a later pull by tag fails once the upstream
// is gone although every byte is cached. Found by the containerd e2e suite.
import { startMirror, type MirrorUnderTest } from './mirror-harness.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';

describe('a tag resolved by HEAD, its manifest fetched by digest (containerd)', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('resolves from the cache with the upstream stopped, after one upstream GET in all', async () => {
    m = await startMirror();
    const image = m.hub.addImage('library/ctr', '1.0');
    const head = await fetch(`${m.url}/v2/library/ctr/manifests/1.0?ns=docker.io`, { method: 'HEAD', headers: { accept: CLIENT_ACCEPT } });
    expect(head.headers.get('docker-content-digest')).toBe(image.digest);
    expect((await m.get(`/v2/library/ctr/manifests/${image.digest}?ns=docker.io`)).status).toBe(200);
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(1);

    await m.hub.stop();
    const offline = await fetch(`${m.url}/v2/library/ctr/manifests/1.0?ns=docker.io`, { method: 'HEAD', headers: { accept: CLIENT_ACCEPT } });
    expect(offline.status).toBe(200);
    expect(offline.headers.get('docker-content-digest')).toBe(image.digest);
    expect(offline.headers.get('content-length')).toBe(String(image.manifest.length));
    const got = await m.get('/v2/library/ctr/manifests/1.0');
    expect(got.status).toBe(200);
    expect(got.body.equals(image.manifest)).toBe(true);
  });

  test('a HEAD alone records the tag but no manifest: a GET by tag then fetches it', async () => {
    m = await startMirror();
    const image = m.hub.addImage('library/ctr', '2.0');
    await fetch(`${m.url}/v2/library/ctr/manifests/2.0`, { method: 'HEAD', headers: { accept: CLIENT_ACCEPT } });
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(0);
    const got = await m.get('/v2/library/ctr/manifests/2.0');
    expect(got.body.equals(image.manifest)).toBe(true);
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(1);
  });
});

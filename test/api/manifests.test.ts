import { json, startMirror, type MirrorUnderTest } from './mirror-harness.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('manifests through the mirror', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('a tag is fetched once through the token flow, then served with no upstream request', async () => {
    m = await startMirror();
    const image = m.hub.addImage('library/alpine', '3.20');
    const cold = await m.get('/v2/alpine/manifests/3.20', { accept: OCI_MANIFEST });
    expect(cold.status).toBe(200);
    expect(cold.headers['docker-content-digest']).toBe(image.digest);
    expect(cold.headers['content-type']).toBe(OCI_MANIFEST);
    expect(cold.headers['docker-distribution-api-version']).toBe('registry/2.0');
    expect(cold.body.equals(image.manifest)).toBe(true);
    expect(m.hub.count({ kind: 'token' })).toBe(1);

    m.hub.resetCounts();
    const warm = await m.get('/v2/library/alpine/manifests/3.20');
    expect(warm.status).toBe(200);
    expect(warm.body.equals(image.manifest)).toBe(true);
    const byDigest = await m.get(`/v2/library/alpine/manifests/${image.digest}`);
    expect(byDigest.body.equals(image.manifest)).toBe(true);
    expect(m.hub.requests).toEqual([]);
  });

  test('tagRevalidation wait: a stale tag is revalidated with a HEAD (not a pull) before the answer, and follows a moved tag', async () => {
    m = await startMirror({ upstream: { tagTTL: 0, tagRevalidation: 'wait' } });
    const v1 = m.hub.addImage('library/app', 'latest');
    await m.get('/v2/library/app/manifests/latest');
    m.hub.resetCounts();
    const same = await m.get('/v2/library/app/manifests/latest');
    expect(same.headers['docker-content-digest']).toBe(v1.digest);
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(0);
    expect(m.hub.count({ kind: 'manifest', method: 'HEAD' })).toBe(1);

    const v2 = m.hub.addImage('library/app', 'latest');
    const moved = await m.get('/v2/library/app/manifests/latest');
    expect(moved.headers['docker-content-digest']).toBe(v2.digest);
    expect(moved.body.equals(v2.manifest)).toBe(true);
  });

  test('upstream down: a stale tag and digests are still served', async () => {
    m = await startMirror({ upstream: { tagTTL: 0 } });
    const image = m.hub.addImage('library/app', '1');
    await m.get('/v2/library/app/manifests/1');
    await m.hub.stop();
    const stale = await m.get('/v2/library/app/manifests/1');
    expect(stale.status).toBe(200);
    expect(stale.body.equals(image.manifest)).toBe(true);
    expect((await m.get(`/v2/library/app/manifests/${image.digest}`)).status).toBe(200);
    const uncached = await m.get('/v2/library/other/manifests/1');
    expect(uncached.status).toBe(503);
    expect(json(uncached.body).errors[0].code).toBe('UNAVAILABLE');
  });

  test('upstream 5xx or 429 on revalidation: the stale tag is served', async () => {
    m = await startMirror({ upstream: { tagTTL: 0 } });
    const image = m.hub.addImage('library/app', '1');
    await m.get('/v2/library/app/manifests/1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 500 });
    expect((await m.get('/v2/library/app/manifests/1')).body.equals(image.manifest)).toBe(true);
    m.hub.clearFaults();
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 429, headers: { 'Retry-After': '30' } });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
  });

  test('upstream 429 with nothing cached: 429 TOOMANYREQUESTS with Retry-After', async () => {
    m = await startMirror({ hub: { rateLimit: { limit: 1, windowSeconds: 21600 } } });
    m.hub.addImage('library/a', '1');
    m.hub.addImage('library/b', '1');
    expect((await m.get('/v2/library/a/manifests/1')).status).toBe(200);
    expect(m.server.mirror.router.default.client.rateLimit).toMatchObject({ limit: 1, remaining: 0, windowSeconds: 21600 });
    const limited = await m.get('/v2/library/b/manifests/1');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(json(limited.body).errors[0].code).toBe('TOOMANYREQUESTS');
  });

  test('concurrent cold requests for one tag make one upstream GET', async () => {
    m = await startMirror();
    m.hub.addImage('library/herd', '1');
    const results = await Promise.all(Array.from({ length: 20 }, () => m.get('/v2/library/herd/manifests/1')));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(m.hub.count({ kind: 'manifest', method: 'GET', status: 200 })).toBe(1);
  });

  test('a client whose tag lookup was answered before a running fetch stored the tag gets it from storage, not a second GET', async () => {
    let held: { entered: () => void; gate: Promise<void> } | undefined;
    let release!: () => void;
    const entered = new Promise<void>((resolve) => {
      held = { entered: resolve, gate: new Promise((r) => (release = r)) };
    });
    m = await startMirror({
      wrapStorage: (driver) =>
        Object.assign(Object.create(driver) as typeof driver, {
          async get(key: string) {
            const answer = driver.get(key).then(
              (value) => ({ value }),
              (error: unknown) => ({ error }),
            ); // as of now: before the other client's fetch
            const hold = key.includes('/_tags/') ? held : undefined;
            if (hold) held = undefined;
            const settled = await answer;
            if (hold) {
              hold.entered();
              await hold.gate;
            }
            if ('error' in settled) throw settled.error;
            return settled.value;
          },
        }),
    });
    const image = m.hub.addImage('library/late', '1');
    const late = m.get('/v2/library/late/manifests/1'); // its tag lookup says "none" and is held
    await entered;
    const first = await m.get('/v2/library/late/manifests/1'); // fetches, stores, ends
    release();
    for (const r of [first, await late]) expect([r.status, r.headers['docker-content-digest']]).toEqual([200, image.digest]);
    expect(m.hub.count({ kind: 'manifest', method: 'GET', status: 200 })).toBe(1);
  });

  test('HEAD on a miss asks upstream with a HEAD only; a multi-arch index and its children cache by digest', async () => {
    m = await startMirror();
    const amd = m.hub.addImage('library/multi', undefined, { platform: { os: 'linux', architecture: 'amd64' } });
    const arm = m.hub.addImage('library/multi', undefined, { platform: { os: 'linux', architecture: 'arm64' } });
    const index = m.hub.addIndex('library/multi', 'latest', [
      { digest: amd.digest, size: amd.manifest.length, mediaType: amd.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: arm.digest, size: arm.manifest.length, mediaType: arm.mediaType, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    const res = await fetch(`${m.url}/v2/library/multi/manifests/latest`, { method: 'HEAD', headers: { accept: CLIENT_ACCEPT } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(index);
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(0);

    const got = await m.get('/v2/library/multi/manifests/latest');
    expect(got.headers['content-type']).toBe('application/vnd.oci.image.index.v1+json');
    expect((await m.get(`/v2/library/multi/manifests/${amd.digest}`)).status).toBe(200);
    await m.hub.stop();
    expect((await m.get(`/v2/library/multi/manifests/${amd.digest}`)).body.equals(amd.manifest)).toBe(true);
  });

  test('an unknown manifest is MANIFEST_UNKNOWN and nothing is stored', async () => {
    m = await startMirror();
    m.hub.addImage('library/nope', 'other'); // the repository exists upstream; its tag 1 does not
    const res = await m.get('/v2/library/nope/manifests/1');
    expect(res.status).toBe(404);
    expect(json(res.body).errors[0].code).toBe('MANIFEST_UNKNOWN');
    expect(await m.files()).toEqual([]);
  });
});

import { request } from 'undici';
import { parseDigest } from '../../src/oci/digest.js';
import { HubMediaType, type FakeHub } from '../fixtures/fake-hub.js';
import { json, startMirror, type MirrorUnderTest, type MirrorOptions } from './mirror-harness.js';

const SBOM = 'application/spdx+json';
const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };
/** The tagTTL, in ms, as the clock moves. */
const TTL = 60_000;
const REPO = 'library/app';

/** An artifact manifest (empty config, one layer) whose `subject` is `subject`; its digest. */
function addReferrer(hub: FakeHub, subject: { digest: string; manifest: Buffer }, artifactType: string, tag?: string): string {
  hub.addBlob('{}');
  const content = Buffer.from(`${artifactType} of ${subject.digest}`);
  const body = {
    schemaVersion: 2,
    mediaType: HubMediaType.ociManifest,
    artifactType,
    config: EMPTY,
    layers: [{ mediaType: artifactType, digest: hub.addBlob(content), size: content.length }],
    subject: { mediaType: HubMediaType.ociManifest, digest: subject.digest, size: subject.manifest.length },
  };
  return hub.addManifest(REPO, body, HubMediaType.ociManifest, tag);
}

describe('referrers (OCI 1.1) through the mirror', () => {
  let m: MirrorUnderTest;
  let clock: number;
  afterEach(async () => m.close());

  async function start(opts: MirrorOptions = {}): Promise<void> {
    clock = Date.now();
    m = await startMirror({ upstream: { tagTTL: '1m', tagRevalidation: 'wait' }, now: () => clock, ...opts });
  }

  async function referrers(subject: string, artifactType?: string) {
    const route = m.server.mirror.router.route(REPO, undefined);
    return m.server.mirror.referrers.getReferrers(route, parseDigest(subject), artifactType);
  }

  test('an upstream with the referrers API: passed through, filtered here, fresh for tagTTL, revalidated, stale while the upstream is down', async () => {
    await start({ hub: { referrers: true } });
    const image = m.hub.addImage(REPO, '1');
    const sbom = addReferrer(m.hub, image, SBOM);
    const sig = addReferrer(m.hub, image, SIGNATURE);

    const all = await referrers(image.digest);
    expect(all.cache).toBe('miss');
    expect(all.filtered).toBe(false);
    expect(all.manifests.map((d) => [d.digest, d.artifactType]).sort()).toEqual(
      [
        [sbom, SBOM],
        [sig, SIGNATURE],
      ].sort(),
    );
    const only = await referrers(image.digest, SBOM);
    expect(only).toMatchObject({ filtered: true, cache: 'hit' });
    expect(only.manifests.map((d) => d.digest)).toEqual([sbom]);
    expect(m.hub.count({ kind: 'referrers', status: 200 })).toBe(1);

    // Past tagTTL the upstream is asked again and a new referrer shows.
    const later = addReferrer(m.hub, image, 'application/vnd.cyclonedx+json');
    clock += TTL;
    const revalidated = await referrers(image.digest);
    expect(revalidated.cache).toBe('revalidated');
    expect(revalidated.manifests.map((d) => d.digest)).toContain(later);
    expect(m.hub.count({ kind: 'referrers', status: 200 })).toBe(2);

    await m.hub.stop();
    clock += TTL;
    const stale = await referrers(image.digest, SIGNATURE);
    expect(stale).toMatchObject({ cache: 'stale', filtered: true });
    expect(stale.manifests.map((d) => d.digest)).toEqual([sig]);
  });

  test('no referrers: an empty list, never a 404, with the API and without it', async () => {
    await start({ hub: { referrers: true } });
    const image = m.hub.addImage(REPO, '1');
    expect((await referrers(image.digest)).manifests).toEqual([]);
    await m.close();
    await start();
    const other = m.hub.addImage(REPO, '1');
    expect((await referrers(other.digest)).manifests).toEqual([]);
    expect(m.hub.count({ kind: 'referrers' })).toBe(1);
    expect(m.hub.count({ kind: 'manifest', reference: `sha256-${parseDigest(other.digest).hex}` })).toBeGreaterThan(0);
  });

  test('an upstream without the API (404): the sha256-<hex> tag schema, pulled through the manifest cache, works with the upstream down', async () => {
    await start();
    const image = m.hub.addImage(REPO, '1');
    const sbom = addReferrer(m.hub, image, SBOM);
    // The referrer pulls through like any manifest by digest (and is then there with the upstream down).
    const sbomManifest = await m.get(`/v2/${REPO}/manifests/${sbom}`);
    expect((json(sbomManifest.body) as { subject: { digest: string } }).subject.digest).toBe(image.digest);
    const descriptor = { mediaType: HubMediaType.ociManifest, digest: sbom, size: sbomManifest.body.length, artifactType: SBOM };
    const tag = `sha256-${parseDigest(image.digest).hex}`;
    m.hub.addManifest(REPO, { schemaVersion: 2, mediaType: HubMediaType.ociIndex, manifests: [descriptor] }, HubMediaType.ociIndex, tag);

    const found = await referrers(image.digest, SBOM);
    expect(found).toMatchObject({ cache: 'miss', filtered: true, manifests: [descriptor] });
    expect((await referrers(image.digest, SIGNATURE)).manifests).toEqual([]);
    expect(m.hub.count({ kind: 'referrers' })).toBe(1);
    expect(m.hub.count({ kind: 'manifest', method: 'GET', reference: tag })).toBe(1);

    await m.hub.stop();
    clock += TTL;
    const offline = await referrers(image.digest);
    expect(offline).toMatchObject({ cache: 'stale', manifests: [descriptor] });
    const byDigest = await m.get(`/v2/${REPO}/manifests/${sbom}`);
    expect(byDigest.status).toBe(200);
    expect(byDigest.headers['docker-content-digest']).toBe(sbom);
  });

  test('GET /v2/<name>/referrers/<digest>: an OCI index, OCI-Filters-Applied when filtered, 400 for a bad digest, 405 for writes', async () => {
    await start({ hub: { referrers: true } });
    const image = m.hub.addImage(REPO, '1');
    const sbom = addReferrer(m.hub, image, SBOM);
    const all = await m.get(`/v2/app/referrers/${image.digest}`);
    expect([all.status, all.headers['content-type'], all.headers['oci-filters-applied']]).toEqual([200, HubMediaType.ociIndex, undefined]);
    expect(json(all.body)).toMatchObject({ schemaVersion: 2, mediaType: HubMediaType.ociIndex, manifests: [{ digest: sbom, artifactType: SBOM }] });
    const filtered = await m.get(`/v2/${REPO}/referrers/${image.digest}?artifactType=${encodeURIComponent(SIGNATURE)}`);
    expect([filtered.status, filtered.headers['oci-filters-applied'], (json(filtered.body) as { manifests: unknown[] }).manifests]).toEqual([
      200,
      'artifactType',
      [],
    ]);
    const bad = await m.get(`/v2/${REPO}/referrers/sha256:nothex`);
    expect([bad.status, (json(bad.body) as { errors: { code: string }[] }).errors[0]?.code]).toEqual([400, 'DIGEST_INVALID']);
    const write = await request(`${m.url}/v2/${REPO}/referrers/${image.digest}`, { method: 'PUT', body: '{}' });
    await write.body.dump();
    expect(write.statusCode).toBe(405);
    expect(m.hub.count({ kind: 'referrers', status: 200 })).toBe(1);
  });

  test('upstream down with nothing cached: the upstream error, not an empty list', async () => {
    await start({ hub: { referrers: true } });
    const image = m.hub.addImage(REPO, '1');
    await m.hub.stop();
    await expect(referrers(image.digest)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

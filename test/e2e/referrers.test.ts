// Signatures and SBOMs through the mirror. Against Debian's docker-registry (distribution 2.8, no
// referrers API): the test pushes an image, a cosign-style signature under `sha256-<hex>.sig`, an
// SPDX SBOM whose `subject` is the image, and the `sha256-<hex>` index of the referrers tag schema
// (which on a 1.0 registry the pushing client keeps, as oras and cosign do). Through the mirror it
// finds the SBOM with the referrers API, the signature by its tag, verifies the signature with the
// public key, then does it all again with the upstream stopped. Against the fake hub playing an
// OCI 1.1 upstream, the referrers API is passed through and filtered by artifactType.
import { createHash, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';
import { FakeHub, HubMediaType } from '../fixtures/fake-hub.js';
import { EMPTY_CONFIG, pushArtifact } from './harness/artifacts.js';
import { httpGet } from './harness/http.js';
import { buildImage, KiB, pushImage, type PushedImage } from './harness/images.js';
import { readLayoutManifest } from './harness/oci-layout.js';
import { Pullthrough } from './harness/pullthrough.js';
import { fetchManifest } from './harness/registry-api.js';
import { pullVerified, RegistryPusher, type Descriptor, type PushedManifest } from './harness/registry-push.js';
import { pushSignature, signingKeys, verifySignature } from './harness/signing.js';
import { skopeoCopy } from './harness/skopeo.js';
import { makeTempDir, removeDir } from './harness/tmp.js';
import { UpstreamRegistry } from './harness/upstream-registry.js';

const TIMEOUT_MS = 120_000;
const REPOSITORY = 'library/e2e-signed';
const TAG = '1.0';
const SPDX = 'application/spdx+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

interface ReferrersAnswer {
  status: number;
  contentType: string;
  filtersApplied?: string;
  manifests: Descriptor[];
}

/** GET /v2/<repository>/referrers/<digest>[?artifactType=…] from the mirror. */
async function referrers(mirror: Pullthrough, repository: string, digest: string, artifactType?: string): Promise<ReferrersAnswer> {
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  const res = await httpGet(`${mirror.url}/v2/${repository}/referrers/${digest}${query}`);
  const body = res.status === 200 ? (JSON.parse(res.body.toString('utf8')) as { mediaType: string; manifests: Descriptor[] }) : undefined;
  if (body) expect(body.mediaType).toBe(OCI_INDEX);
  return {
    status: res.status,
    contentType: String(res.headers['content-type'] ?? ''),
    ...(res.headers['oci-filters-applied'] === undefined ? {} : { filtersApplied: String(res.headers['oci-filters-applied']) }),
    manifests: body?.manifests ?? [],
  };
}

describe('a signed image with an SBOM on a registry without the referrers API', () => {
  let work: string | undefined;
  let upstream: UpstreamRegistry | undefined;
  let mirror: Pullthrough | undefined;
  let image: PushedImage;
  let sbom: PushedManifest;
  let signature: PushedManifest;
  let keys: { privateKey: KeyObject; publicKey: KeyObject };

  beforeAll(async () => {
    work = await makeTempDir('referrers');
    upstream = await UpstreamRegistry.create();
    mirror = await Pullthrough.create({ upstreamUrl: upstream.url });
    image = await pushImage(await buildImage({ layoutDir: join(work, 'seed'), tag: TAG, layerSizes: [64 * KiB] }), {
      host: upstream.host,
      repository: REPOSITORY,
    });
    const subject = await fetchManifest(upstream.url, REPOSITORY, image.manifestDigest);
    const push = new RegistryPusher(upstream.url, REPOSITORY);
    keys = signingKeys();
    signature = await pushSignature(push, `${upstream.host}/${REPOSITORY}`, image.manifestDigest, keys.privateKey);
    const spdx = JSON.stringify({
      spdxVersion: 'SPDX-2.3',
      name: REPOSITORY,
      documentNamespace: `https://example.invalid/${image.manifestDigest}`,
      packages: [],
    });
    sbom = await pushArtifact(push, {
      label: 'SBOM',
      artifactType: SPDX,
      config: EMPTY_CONFIG,
      layers: [{ mediaType: SPDX, bytes: spdx }],
      extra: { subject: { mediaType: subject.mediaType, digest: image.manifestDigest, size: subject.raw.length } },
    });
    // The referrers tag schema: what oras and cosign maintain on a registry without the API.
    const descriptor = { mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.size, artifactType: SPDX };
    await push.manifest({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [descriptor] }, image.manifestDigest.replace(':', '-'));
  }, TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([mirror?.dispose(), upstream?.dispose()]);
    if (work) await removeDir(work);
  }, TIMEOUT_MS);

  /** The whole check a policy engine makes: image, SBOM by referrers, signature by tag, verified. */
  async function findAndVerify(label: string): Promise<void> {
    try {
      const dir = join(work!, label);
      await skopeoCopy(`docker://${mirror!.host}/${REPOSITORY}:${TAG}`, `oci:${dir}:${TAG}`);
      expect((await readLayoutManifest(dir, TAG)).manifestDigest).toBe(image.manifestDigest);

      const all = await referrers(mirror!, REPOSITORY, image.manifestDigest);
      expect([all.status, all.contentType, all.filtersApplied]).toEqual([200, OCI_INDEX, undefined]);
      expect(all.manifests.map((d) => [d.digest, d.artifactType])).toEqual([[sbom.digest, SPDX]]);
      const spdxOnly = await referrers(mirror!, REPOSITORY, image.manifestDigest, SPDX);
      expect([spdxOnly.filtersApplied, spdxOnly.manifests.map((d) => d.digest)]).toEqual(['artifactType', [sbom.digest]]);
      const none = await referrers(mirror!, REPOSITORY, image.manifestDigest, 'application/vnd.example.other');
      expect([none.status, none.filtersApplied, none.manifests]).toEqual([200, 'artifactType', []]);
      // A digest nothing refers to: an empty index, not a 404.
      const unreferenced = await referrers(mirror!, REPOSITORY, image.configDigest);
      expect([unreferenced.status, unreferenced.manifests]).toEqual([200, []]);

      const pulledSbom = await pullVerified(mirror!.url, REPOSITORY, all.manifests[0]!.digest, sbom.mediaType, sbom.blobs);
      expect(pulledSbom.contentDigest).toBe(sbom.digest);
      const sbomManifest = JSON.parse(pulledSbom.bytes.toString('utf8')) as { subject: { digest: string }; layers: Descriptor[] };
      expect(sbomManifest.subject.digest).toBe(image.manifestDigest);
      expect(JSON.parse(pulledSbom.blobs.get(sbomManifest.layers[0]!.digest)!.toString('utf8'))).toMatchObject({ spdxVersion: 'SPDX-2.3' });

      const sigTag = `${image.manifestDigest.replace(':', '-')}.sig`;
      const pulledSig = await pullVerified(mirror!.url, REPOSITORY, sigTag, signature.mediaType, signature.blobs);
      expect(pulledSig.contentDigest).toBe(signature.digest);
      expect(verifySignature(pulledSig.bytes, pulledSig.blobs, image.manifestDigest, keys.publicKey)).toBe(true);
      // The check can fail: another key, or another image's digest, does not verify.
      expect(verifySignature(pulledSig.bytes, pulledSig.blobs, image.manifestDigest, signingKeys().publicKey)).toBe(false);
      expect(verifySignature(pulledSig.bytes, pulledSig.blobs, `sha256:${createHash('sha256').update('other').digest('hex')}`, keys.publicKey)).toBe(false);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- pullthrough log (${mirror!.logFile}) ---\n${await mirror!.logTail()}`, { cause: err });
    }
  }

  test(
    'found and verified through the mirror',
    async () => {
      await findAndVerify('cold');
    },
    TIMEOUT_MS,
  );

  test(
    'found and verified again with the upstream stopped',
    async () => {
      await upstream!.stop();
      await findAndVerify('upstream-down');
    },
    TIMEOUT_MS,
  );
});

describe('an upstream with the referrers API (the fake hub playing OCI 1.1)', () => {
  let hub: FakeHub | undefined;
  let mirror: Pullthrough | undefined;

  beforeAll(async () => {
    hub = await FakeHub.start({ referrers: true });
    mirror = await Pullthrough.create({ upstreamUrl: hub.url });
  }, TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([mirror?.dispose(), hub?.close()]);
  }, TIMEOUT_MS);

  test(
    'passed through once, filtered by artifactType, then served with the upstream stopped',
    async () => {
      const subject = hub!.addImage('library/app', '1');
      const empty = hub!.addBlob('{}');
      const refer = (artifactType: string, content: string) =>
        hub!.addManifest(
          'library/app',
          {
            schemaVersion: 2,
            mediaType: HubMediaType.ociManifest,
            artifactType,
            config: { mediaType: EMPTY_CONFIG.mediaType, digest: empty, size: 2 },
            layers: [{ mediaType: artifactType, digest: hub!.addBlob(content), size: content.length }],
            subject: { mediaType: HubMediaType.ociManifest, digest: subject.digest, size: subject.manifest.length },
          },
          HubMediaType.ociManifest,
        );
      const sbom = refer(SPDX, '{"spdxVersion":"SPDX-2.3"}');
      const sig = refer('application/vnd.dev.cosign.artifact.sig.v1+json', 'signature');

      const check = async () => {
        const all = await referrers(mirror!, 'library/app', subject.digest);
        expect([all.status, all.contentType]).toEqual([200, OCI_INDEX]);
        expect(all.manifests.map((d) => d.digest).sort()).toEqual([sbom, sig].sort());
        const spdxOnly = await referrers(mirror!, 'library/app', subject.digest, SPDX);
        expect([spdxOnly.filtersApplied, spdxOnly.manifests.map((d) => d.digest)]).toEqual(['artifactType', [sbom]]);
        expect((await httpGet(`${mirror!.url}/v2/library/app/manifests/${sbom}`, { headers: { accept: CLIENT_ACCEPT } })).status).toBe(200);
      };
      await check();
      // One upstream answer, filtered here for each question; no tag-schema lookup.
      expect(hub!.count({ kind: 'referrers', status: 200 })).toBe(1);
      expect(hub!.count({ kind: 'manifest', reference: `sha256-${subject.digest.slice(7)}` })).toBe(0);
      await hub!.stop();
      await check();
    },
    TIMEOUT_MS,
  );
});

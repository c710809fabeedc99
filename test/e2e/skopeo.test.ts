// skopeo pulls through pullthrough from a real registry (Debian's docker-registry
// playing Docker Hub): cold, warm, and warm with the upstream gone, checking
// every digest against what was seeded.
import { join } from 'node:path';
import { buildImage, KiB, MiB, pushImage, type PushedImage } from './harness/images.js';
import { hashLayoutBlobs, readLayoutManifest } from './harness/oci-layout.js';
import { Pullthrough } from './harness/pullthrough.js';
import { fetchCatalog } from './harness/registry-api.js';
import { skopeoCopy } from './harness/skopeo.js';
import { makeTempDir, removeDir } from './harness/tmp.js';
import { UpstreamRegistry } from './harness/upstream-registry.js';

// Generous, for slow CI disks; nothing here asserts how long anything takes.
const TIMEOUT_MS = 120_000;
const REPOSITORY = 'library/e2e-multi';
const TAG = '1.0';

let work: string | undefined;
let upstream: UpstreamRegistry | undefined;
let mirror: Pullthrough | undefined;
let seeded: PushedImage;

beforeAll(async () => {
  work = await makeTempDir('skopeo');
  upstream = await UpstreamRegistry.create();
  mirror = await Pullthrough.create({ upstreamUrl: upstream.url });
  const image = await buildImage({ layoutDir: join(work, 'seed'), tag: TAG, layerSizes: [64 * KiB, MiB, 8 * MiB] });
  seeded = await pushImage(image, { host: upstream.host, repository: REPOSITORY });
}, TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([mirror?.dispose(), upstream?.dispose()]);
  if (work) await removeDir(work);
}, TIMEOUT_MS);

/**
 * skopeo-copies `<mirror>/<name>` into a fresh OCI layout (fresh, so skopeo
 * cannot skip blobs it already has) and checks it holds exactly what was
 * seeded: the manifest digest, the layer list, and every blob's bytes.
 * A failed copy is reported with the ends of both servers' logs.
 */
async function pullThroughMirror(name: string, label: string): Promise<void> {
  const dir = join(work!, label);
  try {
    await skopeoCopy(`docker://${mirror!.host}/${name}`, `oci:${dir}:${TAG}`);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n\n--- pullthrough log (${mirror!.logFile}) ---\n${await mirror!.logTail()}` +
        `\n\n--- upstream log (${upstream!.logFile}) ---\n${await upstream!.logTail(2000)}`,
      { cause: err },
    );
  }

  const copied = await readLayoutManifest(dir, TAG);
  expect(copied.manifestDigest).toBe(seeded.manifestDigest);
  expect(copied.configDigest).toBe(seeded.configDigest);
  expect(copied.layerDigests).toEqual(seeded.layerDigests);

  // Each blob file must hash to its own name; listing expected digests makes a miss name the blob.
  const hashes = await hashLayoutBlobs(dir);
  const expected = [seeded.manifestDigest, seeded.configDigest, ...seeded.layerDigests];
  expect(expected.map((digest) => [digest, hashes.get(digest)])).toEqual(expected.map((digest) => [digest, digest]));
}

test('the seeded image has at least three layers', () => {
  expect(seeded.layerDigests.length).toBeGreaterThanOrEqual(3);
});

test(
  'cold pull by tag fetches through the mirror',
  async () => {
    await pullThroughMirror(`${REPOSITORY}:${TAG}`, 'cold');
  },
  TIMEOUT_MS,
);

test(
  'warm pull by tag',
  async () => {
    await pullThroughMirror(`${REPOSITORY}:${TAG}`, 'warm');
  },
  TIMEOUT_MS,
);

test(
  'a one-component name gets library/',
  async () => {
    await pullThroughMirror(`e2e-multi:${TAG}`, 'short-name');
  },
  TIMEOUT_MS,
);

test(
  'pull by digest',
  async () => {
    await pullThroughMirror(`${REPOSITORY}@${seeded.manifestDigest}`, 'by-digest');
  },
  TIMEOUT_MS,
);

test(
  'warm pull by tag with the upstream stopped is served from cache',
  async () => {
    await upstream!.stop();
    // Within the tag TTL (5 min by default) the mirror must not even try the upstream.
    await pullThroughMirror(`${REPOSITORY}:${TAG}`, 'upstream-down');
  },
  TIMEOUT_MS,
);

test(
  '_catalog lists the cached repository',
  async () => {
    expect(await fetchCatalog(mirror!.url)).toContain(REPOSITORY);
  },
  TIMEOUT_MS,
);

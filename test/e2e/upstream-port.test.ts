// An upstream whose name carries its port (`127.0.0.1:<port>`, as `registry.local:5000` would):
// skopeo pulls through the mirror from Debian's docker-registry, then again with it stopped.
// Storage keys allow no ':', so the mirror keeps that upstream under `<host>_<port>` (paths.ts).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImage, KiB, pushImage, type PushedImage } from './harness/images.js';
import { readLayoutManifest } from './harness/oci-layout.js';
import { Pullthrough } from './harness/pullthrough.js';
import { fetchCatalog } from './harness/registry-api.js';
import { skopeoCopy } from './harness/skopeo.js';
import { makeTempDir, removeDir } from './harness/tmp.js';
import { UpstreamRegistry } from './harness/upstream-registry.js';

const TIMEOUT_MS = 120_000;
const REPOSITORY = 'team/app';
const TAG = '1.0';

let work: string | undefined;
let upstream: UpstreamRegistry | undefined;
let mirror: Pullthrough | undefined;
let seeded: PushedImage;

beforeAll(async () => {
  work = await makeTempDir('upstream-port');
  upstream = await UpstreamRegistry.create();
  mirror = await Pullthrough.create({ upstreams: [{ name: upstream.host, url: upstream.url }] });
  const image = await buildImage({ layoutDir: join(work, 'seed'), tag: TAG, layerSizes: [64 * KiB, 256 * KiB] });
  seeded = await pushImage(image, { host: upstream.host, repository: REPOSITORY });
}, TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([mirror?.dispose(), upstream?.dispose()]);
  if (work) await removeDir(work);
}, TIMEOUT_MS);

async function pull(label: string): Promise<void> {
  const dir = join(work!, label);
  try {
    await skopeoCopy(`docker://${mirror!.host}/${REPOSITORY}:${TAG}`, `oci:${dir}:${TAG}`);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n--- pullthrough log (${mirror!.logFile}) ---\n${await mirror!.logTail()}`, { cause: err });
  }
  const copied = await readLayoutManifest(dir, TAG);
  expect([copied.manifestDigest, copied.layerDigests]).toEqual([seeded.manifestDigest, seeded.layerDigests]);
}

test('the upstream is named with its port', () => {
  expect(upstream!.host).toMatch(/^127\.0\.0\.1:\d+$/);
});

test(
  'skopeo pulls through it, and the tag and manifest are stored under <host>_<port>',
  async () => {
    await pull('cold');
    const folders = await readdir(join(mirror!.storageDir, 'repositories'));
    expect(folders).toEqual([upstream!.host.replace(':', '_')]);
  },
  TIMEOUT_MS,
);

test(
  'with the upstream stopped, the cached image is pulled again and listed',
  async () => {
    await upstream!.stop();
    await pull('upstream-down');
    expect(await fetchCatalog(mirror!.url)).toEqual([REPOSITORY]);
  },
  TIMEOUT_MS,
);

// podman pulls through pullthrough from two real registries (one playing docker.io, one
// ghcr.io), configured only by the registries.conf drop-in `pullthrough client-config podman`
// writes: every seeded image from each, then again with both upstreams stopped.
import { join } from 'node:path';
import { writeClientConfig } from './harness/client-config.js';
import { CACHED_REPOSITORIES, Fleet, IMAGE_KINDS, REGISTRIES, type ImageKind, type RegistryName } from './harness/fleet.js';
import { PodmanStore } from './harness/podman.js';
import { fetchCatalog } from './harness/registry-api.js';
import { describeRequests, readRequestLog } from './harness/request-log.js';

const TIMEOUT_MS = 180_000;
const CASES = REGISTRIES.flatMap((registry) => IMAGE_KINDS.map((kind) => [registry, kind] as [RegistryName, ImageKind]));

let fleet: Fleet | undefined;
let registriesConf: string;
const stores: PodmanStore[] = [];

beforeAll(async () => {
  fleet = await Fleet.start('podman');
  await writeClientConfig('podman', { mirror: fleet.mirror.url, upstreams: REGISTRIES }, join(fleet.work, 'client'));
  registriesConf = join(fleet.work, 'client', 'etc', 'containers', 'registries.conf.d', 'pullthrough.conf');
}, TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled(stores.map((s) => s.dispose()));
  await fleet?.dispose();
}, TIMEOUT_MS);

/** Pulls into a fresh store (so podman has no layer already) and checks what it holds. */
async function pullAndCheck(registry: RegistryName, kind: ImageKind, arch?: string): Promise<void> {
  const seeded = fleet!.image(registry, kind);
  const store = await PodmanStore.create(registriesConf);
  stores.push(store);
  try {
    await store.pull(seeded.reference, { arch });
  } catch (err) {
    throw await fleet!.explain(err);
  }
  const pulled = await store.inspect(seeded.reference);
  // podman records the digest it resolved the tag to: the index's for a multi-arch image.
  expect(pulled.digest).toBe(seeded.digest);
  const platform = `linux/${arch ?? 'amd64'}`;
  const image = seeded.images.find((i) => i.platform === platform)!;
  expect(pulled.architecture).toBe(arch ?? 'amd64');
  expect(pulled.layers).toBe(image.manifest.layerDigests.length);
  expect(pulled.repoDigests).toContain(`${registry}/${seeded.repository}@${seeded.digest}`);
}

describe('upstreams up', () => {
  test.each(CASES)(
    'podman pull %s e2e/%s',
    async (registry, kind) => {
      await pullAndCheck(registry, kind);
    },
    TIMEOUT_MS,
  );

  test.each(REGISTRIES)(
    'podman pull --arch arm64 %s e2e/multiarch picks the arm64 image',
    async (registry) => {
      await pullAndCheck(registry, 'multiarch', 'arm64');
    },
    TIMEOUT_MS,
  );

  test('every pull went through the mirror: docker.io as /v2/<name>, ghcr.io as /v2/ghcr.io/<name>', async () => {
    const seen = describeRequests(await readRequestLog(fleet!.mirror.logFile));
    for (const kind of IMAGE_KINDS) {
      expect(seen).toContainEqual(expect.stringMatching(new RegExp(`^GET /v2/e2e/${kind}/manifests/1\\.0 200`)));
      expect(seen).toContainEqual(expect.stringMatching(new RegExp(`^GET /v2/ghcr\\.io/e2e/${kind}/manifests/1\\.0 200`)));
    }
    const catalog = await fetchCatalog(fleet!.mirror.url);
    expect(catalog).toEqual(expect.arrayContaining(CACHED_REPOSITORIES));
  });
});

describe('upstreams stopped: served from the mirror cache', () => {
  beforeAll(async () => {
    await fleet!.stopUpstreams();
  }, TIMEOUT_MS);

  test.each(CASES)(
    'podman pull %s e2e/%s',
    async (registry, kind) => {
      await pullAndCheck(registry, kind);
    },
    TIMEOUT_MS,
  );

  test.each(REGISTRIES)(
    'podman pull --arch arm64 %s e2e/multiarch',
    async (registry) => {
      await pullAndCheck(registry, 'multiarch', 'arm64');
    },
    TIMEOUT_MS,
  );
});

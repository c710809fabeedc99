// skopeo pulls images by their own names (docker.io/e2e/layers:1.0, ghcr.io/e2e/layers:1.0)
// while a registries.conf written by `pullthrough client-config podman` sends both registries
// to the mirror: every seeded image from two real upstreams, then again with both stopped.
import { join } from 'node:path';
import { writeClientConfig } from './harness/client-config.js';
import { readDirImage } from './harness/dir-layout.js';
import { CACHED_REPOSITORIES, Fleet, IMAGE_KINDS, REGISTRIES, type ImageKind, type RegistryName } from './harness/fleet.js';
import { fetchCatalog } from './harness/registry-api.js';
import { describeRequests, readRequestLog } from './harness/request-log.js';
import { skopeoCopy } from './harness/skopeo.js';

const TIMEOUT_MS = 180_000;
const CASES = REGISTRIES.flatMap((registry) => IMAGE_KINDS.map((kind) => [registry, kind] as [RegistryName, ImageKind]));

let fleet: Fleet | undefined;
let registriesConf: string;
let copies = 0;

beforeAll(async () => {
  fleet = await Fleet.start('skopeo-mirror');
  await writeClientConfig('podman', { mirror: fleet.mirror.url, upstreams: REGISTRIES }, join(fleet.work, 'client'));
  registriesConf = join(fleet.work, 'client', 'etc', 'containers', 'registries.conf.d', 'pullthrough.conf');
}, TIMEOUT_MS);

afterAll(async () => {
  await fleet?.dispose();
}, TIMEOUT_MS);

/**
 * `skopeo copy --all docker://<registry>/e2e/<kind>:1.0 dir:<fresh>` and checks every byte:
 * the manifest (or index) digest, each image of an index, and each blob against its digest.
 */
async function copyAndCheck(registry: RegistryName, kind: ImageKind): Promise<void> {
  const seeded = fleet!.image(registry, kind);
  const dir = join(fleet!.work, `copy-${(copies += 1)}`);
  try {
    await skopeoCopy(`docker://${seeded.reference}`, `dir:${dir}`, { all: true, registriesConf });
  } catch (err) {
    throw await fleet!.explain(err);
  }
  const copied = await readDirImage(dir);
  expect(copied.digest).toBe(seeded.digest);
  const manifests = seeded.images.map((i) => i.manifest);
  if (kind === 'multiarch') expect(copied.instances.sort()).toEqual(manifests.map((m) => m.manifestDigest).sort());
  const expected = [...new Set(manifests.flatMap((m) => [m.configDigest, ...m.layerDigests]))].sort();
  expect([...copied.blobs.keys()].sort()).toEqual(expected);
  // Listing expected → actual pairs makes a corrupt blob name itself.
  expect(expected.map((d) => [d, copied.blobs.get(d)])).toEqual(expected.map((d) => [d, d]));
}

describe('upstreams up', () => {
  test.each(CASES)(
    'skopeo copy --all docker://%s/e2e/%s:1.0',
    async (registry, kind) => {
      await copyAndCheck(registry, kind);
    },
    TIMEOUT_MS,
  );

  test('the copies went through the mirror, not to the registries they name', async () => {
    const seen = describeRequests(await readRequestLog(fleet!.mirror.logFile));
    for (const kind of IMAGE_KINDS) {
      // The first fetch of each tag was a miss: the mirror got it from the upstream playing that registry.
      expect(seen).toContainEqual(`GET /v2/e2e/${kind}/manifests/1.0 200 miss`);
      expect(seen).toContainEqual(`GET /v2/ghcr.io/e2e/${kind}/manifests/1.0 200 miss`);
    }
    expect(await fetchCatalog(fleet!.mirror.url)).toEqual(expect.arrayContaining(CACHED_REPOSITORIES));
  });
});

describe('upstreams stopped: served from the mirror cache', () => {
  beforeAll(async () => {
    await fleet!.stopUpstreams();
  }, TIMEOUT_MS);

  test.each(CASES)(
    'skopeo copy --all docker://%s/e2e/%s:1.0',
    async (registry, kind) => {
      await copyAndCheck(registry, kind);
    },
    TIMEOUT_MS,
  );
});

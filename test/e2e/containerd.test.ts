// containerd pulls through pullthrough from two real registries (one playing docker.io, one
// ghcr.io) with `ctr images pull --hosts-dir`, the hosts.toml files written by
// `pullthrough client-config containerd` in both URL forms containerd accepts: the mirror at
// /v2 with override_path, and the bare mirror URL (containerd appends /v2). Either way
// containerd adds ?ns=<registry>, the only thing telling the mirror which upstream to use.
// `client-config kind` is a third form: the certs.d directory its cluster config mounts into
// every node at containerd's config_path, pulled through here as the node's containerd would.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { writeClientConfig } from './harness/client-config.js';
import { Containerd } from './harness/containerd.js';
import { CACHED_REPOSITORIES, Fleet, IMAGE_KINDS, REGISTRIES, type ImageKind, type RegistryName } from './harness/fleet.js';
import { fetchCatalog } from './harness/registry-api.js';
import { describeRequests, readRequestLog } from './harness/request-log.js';

const TIMEOUT_MS = 180_000;

/** hosts.toml forms: the client-config client and flags, and where under --write its certs.d lands. */
const FORMS = [
  ['override-path', 'containerd', ['--insecure'], 'etc/containerd/certs.d'], // [host."http://h:p/v2"] override_path = true, skip_verify = true
  ['bare', 'containerd', ['--no-override-path'], 'etc/containerd/certs.d'], // [host."http://h:p"]
  ['kind', 'kind', [], 'certs.d'], // what kind-cluster.yaml mounts at the nodes' /etc/containerd/certs.d
] as const;
type Form = (typeof FORMS)[number][0];

const CASES = FORMS.flatMap(([form]) => REGISTRIES.flatMap((registry) => IMAGE_KINDS.map((kind) => [form, registry, kind] as [Form, RegistryName, ImageKind])));

let fleet: Fleet | undefined;
let containerd: Containerd | undefined;
const hostsDirs = new Map<Form, string>();

beforeAll(async () => {
  fleet = await Fleet.start('containerd');
  containerd = await Containerd.create();
  for (const [form, client, flags, certsDir] of FORMS) {
    const root = join(fleet.work, `client-${form}`);
    await writeClientConfig(client, { mirror: fleet.mirror.url, upstreams: REGISTRIES, flags }, root);
    hostsDirs.set(form, join(root, certsDir));
  }
}, TIMEOUT_MS);

afterAll(async () => {
  // containerd first: its dispose checks it left no mount behind, and fails the suite if it did.
  await Promise.allSettled([fleet?.dispose()]);
  await containerd?.dispose();
}, TIMEOUT_MS);

/**
 * Pulls into a namespace of its own per form and phase (containerd here shares no content
 * between namespaces, so the blobs must come from the mirror again), then checks the tag
 * resolved to the seeded digest and every blob of every platform is in the content store.
 */
async function pullAndCheck(phase: string, form: Form, registry: RegistryName, kind: ImageKind): Promise<void> {
  const seeded = fleet!.image(registry, kind);
  const namespace = `${phase}-${form}`;
  try {
    await containerd!.pull(seeded.reference, { namespace, hostsDir: hostsDirs.get(form)!, allPlatforms: kind === 'multiarch' });
  } catch (err) {
    throw await fleet!.explain(err);
  }
  expect(await containerd!.imageDigest(namespace, seeded.reference)).toBe(seeded.digest);
  const content = await containerd!.contentDigests(namespace);
  const expected = [seeded.digest, ...seeded.images.flatMap((i) => [i.manifest.manifestDigest, i.manifest.configDigest, ...i.manifest.layerDigests])];
  expect(expected.filter((d) => !content.has(d))).toEqual([]);
}

test('the kind cluster config mounts the directory pulled through here at the config_path it sets', async () => {
  const cluster = parseYaml(await readFile(join(fleet!.work, 'client-kind', 'kind-cluster.yaml'), 'utf8'));
  expect(cluster.containerdConfigPatches[0]).toContain('config_path = "/etc/containerd/certs.d"');
  for (const node of cluster.nodes) {
    expect(join(fleet!.work, 'client-kind', node.extraMounts[0].hostPath)).toBe(hostsDirs.get('kind'));
    expect(node.extraMounts[0].containerPath).toBe('/etc/containerd/certs.d');
  }
});

describe('upstreams up', () => {
  test.each(CASES)(
    'hosts.toml %s: ctr images pull %s/e2e/%s:1.0',
    async (form, registry, kind) => {
      await pullAndCheck('up', form, registry, kind);
    },
    TIMEOUT_MS,
  );

  test('containerd reached the mirror at /v2 without a prefix, and ?ns= chose the upstream', async () => {
    const seen = describeRequests(await readRequestLog(fleet!.mirror.logFile));
    expect(seen).toContainEqual(expect.stringMatching(/^HEAD \/v2\/e2e\/layers\/manifests\/1\.0 200/));
    expect(seen.filter((line) => line.includes('ghcr.io'))).toEqual([]);
    // Both registries' images are cached, each under its own upstream: only ns could have told them apart.
    expect(await fetchCatalog(fleet!.mirror.url)).toEqual(expect.arrayContaining(CACHED_REPOSITORIES));
  });
});

describe('upstreams stopped: served from the mirror cache', () => {
  beforeAll(async () => {
    await fleet!.stopUpstreams();
  }, TIMEOUT_MS);

  test.each(CASES)(
    'hosts.toml %s: ctr images pull %s/e2e/%s:1.0',
    async (form, registry, kind) => {
      await pullAndCheck('down', form, registry, kind);
    },
    TIMEOUT_MS,
  );
});

// config/clients/ holds what client-config writes for one example mirror; these tests regenerate
// each client's files and compare them byte for byte, so the examples cannot drift from the code.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { CLIENT_NAMES, generateClientConfig, parseMirrorUrl, parseUpstreams, type ClientName } from '../../src/client-config/index.js';
import { loadConfig } from '../../src/config.js';

const CONFIG_DIR = fileURLToPath(new URL('../../config/', import.meta.url));
const EXAMPLES = join(CONFIG_DIR, 'clients');

/** The options config/clients/README.md regenerates the examples with. */
function example(client: ClientName) {
  return generateClientConfig(client, {
    mirror: parseMirrorUrl('http://mirror.internal:5000'),
    upstreams: parseUpstreams(['docker.io', 'ghcr.io']),
    insecure: true,
    overridePath: true,
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => `/${relative(dir, join(entry.parentPath, entry.name))}`)
    .sort();
}

describe.each(CLIENT_NAMES)('config/clients/%s', (client) => {
  const generated = example(client);
  const dir = join(EXAMPLES, client);

  test('holds exactly the files the generator writes', () => {
    // kind's paths are relative to a directory of the user's choosing; the others are absolute.
    expect(filesUnder(dir)).toEqual(generated.files.map((file) => (file.path.startsWith('/') ? file.path : `/${file.path}`)).sort());
  });

  test.each(generated.files.map((file) => [file.path, file.content]))('%s matches the generator byte for byte', (path, content) => {
    expect(readFileSync(join(dir, path), 'utf8')).toBe(content);
  });
});

describe('the examples parse, with the keys each client needs', () => {
  const read = (path: string) => readFileSync(join(EXAMPLES, path), 'utf8');

  test('docker daemon.json', () => {
    expect(JSON.parse(read('docker/etc/docker/daemon.json'))).toEqual({
      'registry-mirrors': ['http://mirror.internal:5000'],
      'insecure-registries': ['mirror.internal:5000'],
    });
  });

  test('podman registries.conf.d drop-in', () => {
    expect(parseToml(read('podman/etc/containers/registries.conf.d/pullthrough.conf'))).toEqual({
      registry: [
        { location: 'docker.io', mirror: [{ location: 'mirror.internal:5000', insecure: true }] },
        { location: 'ghcr.io', mirror: [{ location: 'mirror.internal:5000/ghcr.io', insecure: true }] },
      ],
    });
  });

  test('k3s registries.yaml: a mirrors entry per upstream, each with the mirror as its endpoint', () => {
    expect(parseYaml(read('k3s/etc/rancher/k3s/registries.yaml'))).toEqual({
      mirrors: {
        'docker.io': { endpoint: ['http://mirror.internal:5000'] },
        'ghcr.io': { endpoint: ['http://mirror.internal:5000'] },
      },
    });
  });

  test('kind cluster: config_path patched into containerd, certs.d mounted there on every node', () => {
    const cluster = parseYaml(read('kind/kind-cluster.yaml'));
    expect(cluster).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    expect(cluster.containerdConfigPatches).toHaveLength(1);
    expect(parseToml(cluster.containerdConfigPatches[0])).toEqual({
      plugins: { 'io.containerd.grpc.v1.cri': { registry: { config_path: '/etc/containerd/certs.d' } } },
    });
    expect(cluster.nodes.map((n: { role: string }) => n.role)).toEqual(['control-plane', 'worker']);
    for (const node of cluster.nodes) {
      expect(node.extraMounts).toEqual([{ hostPath: './certs.d', containerPath: '/etc/containerd/certs.d', readOnly: true }]);
    }
  });

  test.each([
    ['containerd', 'etc/containerd/certs.d'],
    ['microk8s', 'var/snap/microk8s/current/args/certs.d'],
    ['kind', 'certs.d'],
  ])('%s hosts.toml', (client, certsDir) => {
    for (const [registry, server] of [
      ['docker.io', 'https://registry-1.docker.io'],
      ['ghcr.io', 'https://ghcr.io'],
    ]) {
      expect(parseToml(read(`${client}/${certsDir}/${registry}/hosts.toml`))).toEqual({
        server,
        host: { 'http://mirror.internal:5000/v2': { capabilities: ['pull', 'resolve'], override_path: true, skip_verify: true } },
      });
    }
  });
});

test('config/clients has a directory per client and nothing else but its README', () => {
  const entries = readdirSync(EXAMPLES).sort();
  expect(entries).toEqual([...CLIENT_NAMES, 'README.md'].sort());
});

test('config/multi-upstream.yaml loads, with Docker Hub first and the registries a fleet pulls from', () => {
  const config = loadConfig(join(CONFIG_DIR, 'multi-upstream.yaml'), {}, {});
  expect(config.upstreams.map((u) => u.name)).toEqual(['docker.io', 'ghcr.io', 'quay.io', 'registry.k8s.io']);
  expect(config.upstreams[0]!.url).toBe('https://registry-1.docker.io');
  // Its names are valid client-config upstreams too.
  expect(parseUpstreams(config.upstreams.map((u) => u.name))).toEqual(config.upstreams.map((u) => u.name));
});

import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import {
  ClientConfigError,
  generateClientConfig,
  parseMirrorUrl,
  parseUpstreams,
  renderClientConfig,
  type ClientConfigOptions,
} from '../../src/client-config/index.js';

function options(overrides: Partial<Omit<ClientConfigOptions, 'mirror'>> & { mirror?: string } = {}): ClientConfigOptions {
  const { mirror = 'http://mirror.internal:5000', ...rest } = overrides;
  return { mirror: parseMirrorUrl(mirror), upstreams: ['docker.io', 'ghcr.io'], insecure: false, overridePath: true, ...rest };
}

interface HostsToml {
  server: string;
  host: Record<string, { capabilities: string[]; override_path?: boolean; skip_verify?: boolean }>;
}

interface RegistriesConf {
  registry: { location: string; mirror: { location: string; insecure: boolean }[] }[];
}

describe('--mirror', () => {
  test.each([
    ['http://mirror.internal:5000', 'http://mirror.internal:5000', 'mirror.internal:5000', true],
    ['http://mirror.internal:5000/', 'http://mirror.internal:5000', 'mirror.internal:5000', true],
    ['http://mirror.internal:5000/v2/', 'http://mirror.internal:5000', 'mirror.internal:5000', true],
    ['https://mirror.example.com:443', 'https://mirror.example.com', 'mirror.example.com', false],
    ['https://proxy.example.com/pullthrough', 'https://proxy.example.com/pullthrough', 'proxy.example.com/pullthrough', false],
    ['http://[::1]:5000', 'http://[::1]:5000', '[::1]:5000', true],
    ['HTTP://Mirror.Internal:5000', 'http://mirror.internal:5000', 'mirror.internal:5000', true],
  ])('%s → %s', (text, base, hostPath, plainHttp) => {
    expect(parseMirrorUrl(text)).toMatchObject({ base, hostPath, plainHttp });
  });

  test.each([
    ['mirror.internal:5000', /http:\/\/ or https:\/\/ URL/],
    ['ftp://mirror.internal', /http:\/\/ or https:\/\/ URL/],
    ['', /http:\/\/ or https:\/\/ URL/],
    ['http://user:pw@mirror.internal', /credentials/],
    ['http://mirror.internal/?x=1', /query or fragment/],
  ])('%j is refused: %s', (text, message) => {
    expect(() => parseMirrorUrl(text)).toThrow(ClientConfigError);
    expect(() => parseMirrorUrl(text)).toThrow(message);
  });
});

describe('--upstream', () => {
  test('defaults to docker.io; lower-cases and drops repeats, keeping order', () => {
    expect(parseUpstreams([])).toEqual(['docker.io']);
    expect(parseUpstreams(['GHCR.io', 'docker.io', 'ghcr.io', 'registry.local:5000'])).toEqual(['ghcr.io', 'docker.io', 'registry.local:5000']);
  });

  test.each(['https://ghcr.io', 'ghcr.io/org', '', 'a b'])('%j is refused', (name) => {
    expect(() => parseUpstreams([name])).toThrow(/registry host name/);
  });
});

describe('docker', () => {
  test('daemon.json: registry-mirrors, plus insecure-registries for a plain-http mirror', () => {
    const { files } = generateClientConfig('docker', options({ upstreams: ['docker.io'] }));
    expect(files.map((f) => f.path)).toEqual(['/etc/docker/daemon.json']);
    expect(JSON.parse(files[0]!.content)).toEqual({
      'registry-mirrors': ['http://mirror.internal:5000'],
      'insecure-registries': ['mirror.internal:5000'],
    });
  });

  test('an https mirror is secure unless --insecure', () => {
    const secure = generateClientConfig('docker', options({ mirror: 'https://mirror.example.com', upstreams: ['docker.io'] }));
    expect(JSON.parse(secure.files[0]!.content)).toEqual({ 'registry-mirrors': ['https://mirror.example.com'] });
    const insecure = generateClientConfig('docker', options({ mirror: 'https://mirror.example.com:8443', insecure: true }));
    expect(JSON.parse(insecure.files[0]!.content)['insecure-registries']).toEqual(['mirror.example.com:8443']);
  });

  test('other upstreams get a note that docker only mirrors Docker Hub, and no setting', () => {
    const only = generateClientConfig('docker', options({ upstreams: ['docker.io'] }));
    expect(only.notes.join('\n')).not.toMatch(/only mirrors Docker Hub/);
    const more = generateClientConfig('docker', options({ upstreams: ['docker.io', 'ghcr.io', 'quay.io'] }));
    expect(more.notes.join('\n')).toMatch(/docker only mirrors Docker Hub \(docker\.io\).*ghcr\.io, quay\.io/);
    expect(more.files).toHaveLength(1);
  });
});

describe('podman', () => {
  test('a registries.conf.d drop-in with a [[registry]] and its mirror per upstream', () => {
    const { files } = generateClientConfig('podman', options({ upstreams: ['docker.io', 'ghcr.io', 'registry.local:5000'] }));
    expect(files.map((f) => f.path)).toEqual(['/etc/containers/registries.conf.d/pullthrough.conf']);
    const conf = parseToml(files[0]!.content) as unknown as RegistriesConf;
    expect(conf.registry).toEqual([
      // Docker Hub is the mirror's default upstream: no prefix. Others: /v2/<name>/... routes by prefix.
      { location: 'docker.io', mirror: [{ location: 'mirror.internal:5000', insecure: true }] },
      { location: 'ghcr.io', mirror: [{ location: 'mirror.internal:5000/ghcr.io', insecure: true }] },
      { location: 'registry.local:5000', mirror: [{ location: 'mirror.internal:5000/registry.local:5000', insecure: true }] },
    ]);
  });

  test('an https mirror is secure unless --insecure; a proxy path is kept', () => {
    const secure = parseToml(
      generateClientConfig('podman', options({ mirror: 'https://proxy.example.com/pt' })).files[0]!.content,
    ) as unknown as RegistriesConf;
    expect(secure.registry.map((r) => r.mirror[0])).toEqual([
      { location: 'proxy.example.com/pt', insecure: false },
      { location: 'proxy.example.com/pt/ghcr.io', insecure: false },
    ]);
    const insecure = parseToml(
      generateClientConfig('podman', options({ mirror: 'https://proxy.example.com', insecure: true })).files[0]!.content,
    ) as unknown as RegistriesConf;
    expect(insecure.registry.every((r) => r.mirror[0]!.insecure)).toBe(true);
  });
});

describe('k3s', () => {
  const registries = (o: ClientConfigOptions) => {
    const { files } = generateClientConfig('k3s', o);
    expect(files.map((f) => f.path)).toEqual(['/etc/rancher/k3s/registries.yaml']);
    return parseYaml(files[0]!.content);
  };

  test('every upstream mirrors to the same endpoint, without rewrites: containerd sends ?ns=<registry>', () => {
    expect(registries(options({ upstreams: ['docker.io', 'ghcr.io', 'registry.local:5000'] }))).toEqual({
      mirrors: {
        'docker.io': { endpoint: ['http://mirror.internal:5000'] },
        'ghcr.io': { endpoint: ['http://mirror.internal:5000'] },
        'registry.local:5000': { endpoint: ['http://mirror.internal:5000'] },
      },
    });
  });

  test('--insecure on an https mirror skips verification for the mirror host only', () => {
    expect(registries(options({ mirror: 'https://mirror.example.com:8443', insecure: true }))).toEqual({
      mirrors: { 'docker.io': { endpoint: ['https://mirror.example.com:8443'] }, 'ghcr.io': { endpoint: ['https://mirror.example.com:8443'] } },
      configs: { 'mirror.example.com:8443': { tls: { insecure_skip_verify: true } } },
    });
    expect(registries(options({ mirror: 'https://mirror.example.com' })).configs).toBeUndefined();
  });

  test('without docker.io, a note says unqualified images are not mirrored', () => {
    expect(generateClientConfig('k3s', options({ upstreams: ['ghcr.io'] })).notes.join('\n')).toMatch(/docker\.io, which is not mirrored/);
  });
});

describe('kind', () => {
  test('a cluster config patching config_path, and the hosts.toml files it mounts, relative to one directory', () => {
    const { files } = generateClientConfig('kind', options({ upstreams: ['docker.io', 'registry.local:5000'] }));
    expect(files.map((f) => f.path)).toEqual(['kind-cluster.yaml', 'certs.d/docker.io/hosts.toml', 'certs.d/registry.local:5000/hosts.toml']);
    const cluster = parseYaml(files[0]!.content);
    expect(parseToml(cluster.containerdConfigPatches[0])).toEqual({
      plugins: { 'io.containerd.grpc.v1.cri': { registry: { config_path: '/etc/containerd/certs.d' } } },
    });
    expect(cluster.nodes.flatMap((n: { extraMounts: unknown[] }) => n.extraMounts)).toEqual([
      { hostPath: './certs.d', containerPath: '/etc/containerd/certs.d', readOnly: true },
      { hostPath: './certs.d', containerPath: '/etc/containerd/certs.d', readOnly: true },
    ]);
    // The very files containerd's own generator writes, under the mounted directory.
    const containerd = generateClientConfig('containerd', options({ upstreams: ['docker.io', 'registry.local:5000'] }));
    expect(files.slice(1).map((f) => f.content)).toEqual(containerd.files.map((f) => f.content.replaceAll('client-config containerd', 'client-config kind')));
  });
});

describe.each([
  ['containerd', '/etc/containerd/certs.d'],
  ['microk8s', '/var/snap/microk8s/current/args/certs.d'],
] as const)('%s', (client, certsDir) => {
  test('one hosts.toml per upstream: server, and the mirror at /v2 with override_path', () => {
    const { files } = generateClientConfig(client, options({ upstreams: ['docker.io', 'ghcr.io', 'registry.local:5000'] }));
    expect(files.map((f) => f.path)).toEqual([
      `${certsDir}/docker.io/hosts.toml`,
      `${certsDir}/ghcr.io/hosts.toml`,
      `${certsDir}/registry.local:5000/hosts.toml`,
    ]);
    const parsed = files.map((f) => parseToml(f.content) as unknown as HostsToml);
    expect(parsed.map((p) => p.server)).toEqual(['https://registry-1.docker.io', 'https://ghcr.io', 'https://registry.local:5000']);
    for (const p of parsed) {
      expect(p.host).toEqual({ 'http://mirror.internal:5000/v2': { capabilities: ['pull', 'resolve'], override_path: true } });
    }
  });

  test('--insecure adds skip_verify', () => {
    const { files } = generateClientConfig(client, options({ mirror: 'https://mirror.example.com', insecure: true }));
    const p = parseToml(files[0]!.content) as unknown as HostsToml;
    expect(p.host['https://mirror.example.com/v2']).toEqual({ capabilities: ['pull', 'resolve'], override_path: true, skip_verify: true });
  });

  test('--no-override-path: the bare mirror URL, to which containerd adds /v2', () => {
    const { files } = generateClientConfig(client, options({ overridePath: false }));
    const p = parseToml(files[1]!.content) as unknown as HostsToml;
    expect(p).toEqual({ server: 'https://ghcr.io', host: { 'http://mirror.internal:5000': { capabilities: ['pull', 'resolve'] } } });
  });
});

test('the printed form: each file under a # <path> header, then the notes', () => {
  const text = renderClientConfig(generateClientConfig('containerd', options()));
  const headers = text.split('\n').filter((line) => line.startsWith('# /'));
  expect(headers).toEqual(['# /etc/containerd/certs.d/docker.io/hosts.toml', '# /etc/containerd/certs.d/ghcr.io/hosts.toml']);
  expect(text).toMatch(/\n# note: ctr reads them only when told/);
  // Between headers: exactly a file's content (plus the blank separator line), so copying it out works.
  const sections = text.split(/^# (\/\S+)\n/m).slice(1);
  const config = generateClientConfig('containerd', options());
  expect(sections[1]).toBe(`${config.files[0]!.content}\n`);
  expect(() => parseToml(sections[1]!)).not.toThrow();
});

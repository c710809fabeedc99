import { configSchema } from '../../src/config.js';
import { RegistryError } from '../../src/oci/errors.js';
import { UpstreamRouter } from '../../src/upstream/routing.js';

// Addresses no test connects to: routing only picks an upstream, it never calls it.
const router = new UpstreamRouter(
  configSchema.parse({
    upstreams: [
      { name: 'docker.io', url: 'http://127.0.0.1:9' },
      { name: 'ghcr.io', url: 'http://127.0.0.1:9' },
      { name: 'registry.local:5000', url: 'http://127.0.0.1:9' },
    ],
  }).upstreams,
);
afterAll(() => router.close());

function route(name: string, ns?: string): [string, string] {
  const r = router.route(name, ns);
  return [r.upstream.name, r.name];
}

describe('UpstreamRouter', () => {
  test.each([
    // containerd: ?ns= on every request.
    ['alpine', 'docker.io', ['docker.io', 'library/alpine']],
    ['library/alpine', 'docker.io', ['docker.io', 'library/alpine']],
    ['org/app', 'ghcr.io', ['ghcr.io', 'org/app']],
    ['org/app', 'GHCR.IO', ['ghcr.io', 'org/app']],
    ['app', 'registry-1.docker.io', ['docker.io', 'library/app']],
    ['app', 'registry.local:5000', ['registry.local:5000', 'app']],
    // podman/skopeo mirror location mirror:5000/ghcr.io: the upstream is the first path component.
    ['ghcr.io/org/app', undefined, ['ghcr.io', 'org/app']],
    ['ghcr.io/app', undefined, ['ghcr.io', 'app']],
    ['docker.io/alpine', undefined, ['docker.io', 'library/alpine']],
    ['index.docker.io/library/alpine', undefined, ['docker.io', 'library/alpine']],
    ['registry.local:5000/team/app', undefined, ['registry.local:5000', 'team/app']],
    // Neither: the default upstream, library/ for Docker Hub's one-component names only.
    ['alpine', undefined, ['docker.io', 'library/alpine']],
    ['bitnami/redis', undefined, ['docker.io', 'bitnami/redis']],
  ] as const)('%s with ns %s → %j', (name, ns, expected) => {
    expect(route(name, ns)).toEqual(expected);
  });

  test('library/ is Docker Hub only', () => {
    expect(route('app', 'ghcr.io')).toEqual(['ghcr.io', 'app']);
  });

  test.each([
    ['org/app', 'quay.io'],
    ['org/app', '169.254.169.254'],
    ['quay.io/org/app', undefined],
    ['localhost/app', undefined],
    ['evil.example:443/app', undefined],
  ])('%s with ns %s → NAME_UNKNOWN naming the configured upstreams', (name, ns) => {
    expect(() => router.route(name, ns)).toThrow(RegistryError);
    try {
      router.route(name, ns);
    } catch (err) {
      expect((err as RegistryError).code).toBe('NAME_UNKNOWN');
      expect((err as Error).message).toMatch(/not an upstream of this mirror \(configured: docker\.io, ghcr\.io, registry\.local:5000\)/);
    }
  });
});

import { matchEndpoint, splitHostPrefix } from '../../src/api/endpoints.js';

describe('splitHostPrefix: an upstream named before /v2 (containerd host paths, docker ≥ 25 mirror paths)', () => {
  test.each([
    ['/ghcr.io/v2/org/app/manifests/1.0', 'ghcr.io', '/v2/org/app/manifests/1.0'],
    ['/registry.local:5000/v2/app/blobs/sha256:ab', 'registry.local:5000', '/v2/app/blobs/sha256:ab'],
    ['/ghcr.io/v2/', 'ghcr.io', '/v2/'],
    ['/ghcr.io/v2', 'ghcr.io', '/v2'],
  ])('%s → host %s, path %s', (path, host, rest) => {
    expect(splitHostPrefix(path)).toEqual({ host, path: rest });
  });

  test.each([
    '/v2/',
    '/v2/_catalog',
    '/v2/library/alpine/manifests/latest',
    '/v2/ghcr.io/org/app/manifests/1.0',
    '/healthz',
    // A repository whose first component is `v2` is a name inside /v2, not a host prefix.
    '/v2/v2/app/manifests/1.0',
    '/v2/v2/manifests/latest',
    '/v2/v2/tags/list',
  ])('%s has no host prefix', (path) => {
    expect(splitHostPrefix(path)).toEqual({ path });
  });

  test('a repository named v2 stays reachable', () => {
    expect(matchEndpoint(splitHostPrefix('/v2/v2/app/manifests/1.0').path)).toEqual({ kind: 'manifest', name: 'v2/app', reference: '1.0' });
    expect(matchEndpoint(splitHostPrefix('/v2/v2/tags/list').path)).toEqual({ kind: 'tags', name: 'v2' });
  });
});

import { resolveRoute as resolve } from './resolve-route.js';

describe('routes: an upstream named before /v2 (containerd host paths, docker ≥ 25 mirror paths)', () => {
  test.each([
    ['/ghcr.io/v2/org/app/manifests/1.0', 'manifest', { host: 'ghcr.io', name: 'org/app', reference: '1.0' }],
    ['/registry.local:5000/v2/app/blobs/sha256:ab', 'blob', { host: 'registry.local:5000', name: 'app', digest: 'sha256:ab' }],
    ['/ghcr.io/v2/', 'base', { host: 'ghcr.io' }],
    ['/ghcr.io/v2', 'base', { host: 'ghcr.io' }],
    ['/ghcr.io/v2/org/app/tags/list', 'tags', { host: 'ghcr.io', name: 'org/app' }],
  ])('%s → %s %o', (path, route, params) => {
    expect(resolve(path)).toEqual({ route, params });
  });

  test.each([
    ['/v2/', 'base', {}],
    ['/v2/_catalog', 'catalog', {}],
    ['/v2/library/alpine/manifests/latest', 'manifest', { name: 'library/alpine', reference: 'latest' }],
    // An upstream named inside the name is the router's business (`upstream/routing.ts`), not a host prefix.
    ['/v2/ghcr.io/org/app/manifests/1.0', 'manifest', { name: 'ghcr.io/org/app', reference: '1.0' }],
    ['/healthz', 'healthz', {}],
    // A repository whose first component is `v2` is a name inside /v2, not a host prefix.
    ['/v2/v2/app/manifests/1.0', 'manifest', { name: 'v2/app', reference: '1.0' }],
    ['/v2/v2/manifests/latest', 'manifest', { name: 'v2', reference: 'latest' }],
    ['/v2/v2/tags/list', 'tags', { name: 'v2' }],
    // Uploads are declared before blobs: `uploads` is never taken for a digest.
    ['/v2/app/blobs/uploads/', 'upload', { repository: 'app' }],
  ])('%s has no host prefix: %s %o', (path, route, params) => {
    const got = resolve(path);
    expect(got.route).toBe(route);
    expect(got.params).toEqual(params);
    expect(got.params.host).toBeUndefined();
  });
});

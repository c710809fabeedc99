import { parseDigest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseReference, validateName } from '../oci/reference.js';

/** A request path resolved to one registry endpoint; names and references still unvalidated. */
export type Endpoint =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'tags'; name: string }
  | { kind: 'upload'; name: string }
  | { kind: 'healthz' }
  | { kind: 'readyz' }
  | { kind: 'metrics' }
  | { kind: 'status-page' }
  | { kind: 'status' };

// Names may have many components; a reference never contains '/', so the last match wins.
const ROUTES: [RegExp, (m: RegExpExecArray) => Endpoint][] = [
  [/^\/v2\/?$/, () => ({ kind: 'base' })],
  [/^\/v2\/_catalog$/, () => ({ kind: 'catalog' })],
  [/^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/, (m) => ({ kind: 'upload', name: m[1]! })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^\/healthz$/, () => ({ kind: 'healthz' })],
  [/^\/readyz$/, () => ({ kind: 'readyz' })],
  [/^\/metrics$/, () => ({ kind: 'metrics' })],
  [/^\/$/, () => ({ kind: 'status-page' })],
  [/^\/status\.json$/, () => ({ kind: 'status' })],
];

export function matchEndpoint(path: string): Endpoint {
  for (const [pattern, make] of ROUTES) {
    const m = pattern.exec(path);
    if (m) return make(m);
  }
  throw new RegistryError('NOT_FOUND', 'no such endpoint');
}

/**
 * Checks the endpoint's name, reference and digest against the OCI grammar (no I/O), so a malformed
 * request is refused before authentication and before anything touches storage or an upstream.
 */
export function validateEndpoint(endpoint: Endpoint): void {
  if ('name' in endpoint && endpoint.kind !== 'upload') validateName(endpoint.name);
  if (endpoint.kind === 'manifest') parseReference(endpoint.reference);
  if (endpoint.kind === 'blob') parseDigest(endpoint.digest);
}

/**
 * containerd `[host."http://mirror:5000/ghcr.io"]` and docker ≥ 25 mirror URLs with a path send
 * `/ghcr.io/v2/...`: the upstream comes before `/v2`. Returns that host and the path without it.
 */
export function splitHostPrefix(path: string): { host?: string; path: string } {
  // `/v2/v2/app/...` is the repository `v2/app` (or docker.io's `library/v2`), not a host named v2.
  const m = /^\/(?!v2\/)([^/]+)(\/v2(?:\/.*)?)$/.exec(path);
  return m ? { host: m[1], path: m[2]! } : { path };
}

import { parseDigest, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseJson } from '../oci/json.js';
import { MediaType } from '../oci/media-types.js';
import { platformMatches, type Platform } from '../oci/platforms.js';

// The client's `Accept` for manifests, as distribution v3 reads it (registry/handlers/manifests.go,
// GetManifest, which answers HEAD too, with the same status and headers and no body):
// - Every Accept header counts, each split on ","; each entry is parsed as a media type and its
//   parameters dropped, `q=` included (`q=0` still accepts). Only the four manifest types below count:
//   `*/*`, `application/*`, `application/json` accept none of them, so no Accept at all is the same.
// - OCI manifest, OCI manifest not accepted → 404 MANIFEST_UNKNOWN "OCI manifest found, but accept
//   header does not support OCI manifests"; OCI index likewise ("… OCI indexes"), by tag or digest.
// - Docker manifest list fetched BY TAG, list not accepted → its first linux/amd64 child is served in
//   its place (own digest, type, length); no such child → 404 MANIFEST_UNKNOWN; a Docker schema2
//   child while schema2 is not accepted → 400 MANIFEST_INVALID "Schema 2 manifest not supported by
//   client". BY DIGEST the list is served as is: the digest names those bytes.
// - A Docker schema2 (or schema1) manifest is served whatever the Accept says.
// The upstream is always asked with every type (MANIFEST_ACCEPT): the cache holds what it has.

/** The manifest types a client's Accept names. */
export type AcceptedTypes = ReadonlySet<string>;

const COUNTED: ReadonlySet<string> = new Set([MediaType.dockerManifest, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.ociIndex]);

/** Media types are case-insensitive (Go's mime.ParseMediaType lowers them); Node joins repeated Accept headers with ", ". */
export function acceptedTypes(accept: string | undefined): AcceptedTypes {
  const types = new Set<string>();
  for (const entry of (accept ?? '').split(',')) {
    const type = (entry.split(';')[0] ?? '').trim().toLowerCase();
    if (COUNTED.has(type)) types.add(type);
  }
  return types;
}

/** What a manifest answer needs to be negotiated: GET's stored manifest or HEAD's stat. */
export interface Negotiable {
  digest: string;
  mediaType: string;
}

export interface NegotiationSources<T extends Negotiable> {
  /** The bytes of the found manifest list (a HEAD has only its stat). */
  body(found: T): Promise<Buffer>;
  /** The child served in the list's place, pulled through by digest like any other. */
  child(digest: Digest): Promise<T>;
}

const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** The manifest to answer with for these accepted types: the one found, a list's child, or an error (rules above). */
export async function negotiateManifest<T extends Negotiable>(accepted: AcceptedTypes, found: T, byTag: boolean, sources: NegotiationSources<T>): Promise<T> {
  if (found.mediaType === MediaType.ociManifest && !accepted.has(MediaType.ociManifest)) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'OCI manifest found, but accept header does not support OCI manifests');
  }
  if (found.mediaType === MediaType.ociIndex && !accepted.has(MediaType.ociIndex)) {
    throw new RegistryError('MANIFEST_UNKNOWN', 'OCI index found, but accept header does not support OCI indexes');
  }
  if (!byTag || found.mediaType !== MediaType.dockerManifestList || accepted.has(MediaType.dockerManifestList)) return found;
  const child = await sources.child(defaultPlatformChild(await sources.body(found)));
  if (child.mediaType === MediaType.dockerManifest && !accepted.has(MediaType.dockerManifest)) {
    throw new RegistryError('MANIFEST_INVALID', 'Schema 2 manifest not supported by client');
  }
  return child;
}

interface ListShape {
  manifests?: unknown;
}

/** The first linux/amd64 child of a manifest list, variant ignored, as distribution picks it. */
function defaultPlatformChild(listBody: Buffer): Digest {
  const children = (parseJson(listBody) as ListShape | undefined)?.manifests;
  const child = Array.isArray(children)
    ? (children as ({ digest?: unknown; platform?: Partial<Platform> } | null)[]).find((m) => platformMatches(DEFAULT_PLATFORM, m?.platform))
    : undefined;
  if (typeof child?.digest !== 'string') {
    throw new RegistryError(
      'MANIFEST_UNKNOWN',
      'manifest unknown',
      {},
      'no linux/amd64 manifest in the list, and the accept header does not support manifest lists',
    );
  }
  return parseDigest(child.digest, 'MANIFEST_UNKNOWN');
}

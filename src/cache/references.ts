import { parseDigest, type Digest } from '../oci/digest.js';

interface Descriptor {
  digest?: unknown;
  mediaType?: unknown;
}

interface ManifestShape {
  config?: Descriptor;
  layers?: Descriptor[];
  /** Index / manifest list children. */
  manifests?: Descriptor[];
  /** OCI artifact manifests (pre-1.1 drafts) list their content as blobs. */
  blobs?: Descriptor[];
}

export interface Reference {
  digest: Digest;
  /** The descriptor names a manifest or an index (by media type, or as an index's child). */
  manifest: boolean;
}

/** Media types whose bytes are themselves manifests: the only blobs gc ever reads. */
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.artifact.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/**
 * What a manifest points at: its config and layers, or an index's child manifests, each with
 * whether it is a manifest itself. Unparseable manifests and foreign or malformed descriptors
 * contribute nothing.
 */
export function referencedDescriptors(body: Buffer): Reference[] {
  let parsed: ManifestShape;
  try {
    parsed = JSON.parse(body.toString('utf8')) as ManifestShape;
  } catch {
    return [];
  }
  const found: Reference[] = [];
  const add = (d: Descriptor | undefined, child: boolean) => {
    if (typeof d?.digest !== 'string') return;
    try {
      const manifest = child || (typeof d.mediaType === 'string' && MANIFEST_TYPES.has(d.mediaType));
      found.push({ digest: parseDigest(d.digest), manifest });
    } catch {
      // not a sha256 digest: nothing of ours to keep
    }
  };
  add(parsed.config, false);
  for (const d of parsed.layers ?? []) add(d, false);
  for (const d of parsed.blobs ?? []) add(d, false);
  for (const d of parsed.manifests ?? []) add(d, true);
  return found;
}

/** The digests alone (status page sizes). */
export function referencedDigests(body: Buffer): Digest[] {
  return referencedDescriptors(body).map((r) => r.digest);
}

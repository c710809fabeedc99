import { parseDigest, type Digest } from '../oci/digest.js';

interface Descriptor {
  digest?: unknown;
}

interface ManifestShape {
  config?: Descriptor;
  layers?: Descriptor[];
  /** Index / manifest list children. */
  manifests?: Descriptor[];
  /** OCI artifact manifests (pre-1.1 drafts) list their content as blobs. */
  blobs?: Descriptor[];
}

/**
 * The digests a manifest points at: its config and layers, or an index's child manifests.
 * Unparseable manifests and foreign or malformed descriptors contribute nothing.
 */
export function referencedDigests(body: Buffer): Digest[] {
  let parsed: ManifestShape;
  try {
    parsed = JSON.parse(body.toString('utf8')) as ManifestShape;
  } catch {
    return [];
  }
  const descriptors = [parsed.config, ...(parsed.layers ?? []), ...(parsed.manifests ?? []), ...(parsed.blobs ?? [])];
  const digests: Digest[] = [];
  for (const d of descriptors) {
    if (typeof d?.digest !== 'string') continue;
    try {
      digests.push(parseDigest(d.digest));
    } catch {
      // not a sha256 digest: nothing of ours to keep
    }
  }
  return digests;
}

/** Manifest media types the mirror asks upstream for and serves back as stored. */
export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  // Schema 1 is deprecated but still served by some registries for old tags.
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

/** Accept header for upstream manifest requests: every type, so the upstream never down-converts. */
export const MANIFEST_ACCEPT = Object.values(MediaType).join(', ');

/** Upstream manifests larger than this are refused and never stored (same bound as distribution). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The media type to serve: the upstream's, or the one a schema-2-era manifest declares in its body. */
export function manifestMediaType(contentType: string | undefined, body: Buffer): string {
  const declared = contentType?.split(';')[0]?.trim();
  if (declared && declared !== 'application/json' && declared !== 'text/plain') return declared;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
    if (typeof parsed.mediaType === 'string') return parsed.mediaType;
  } catch {
    // not JSON: fall through to the OCI default
  }
  return MediaType.ociManifest;
}

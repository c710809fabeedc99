import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256FileDigest } from './digest.js';

/** The parts of an image manifest the tests compare. */
export interface ManifestSummary {
  /** sha256 of the manifest bytes. */
  manifestDigest: string;
  mediaType: string;
  configDigest: string;
  layerDigests: string[];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  annotations?: Record<string, string>;
}

interface ImageManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Reads an image manifest (Docker schema2 or OCI) out of its raw bytes.
 * `describedAs` is the media type from outside it (the descriptor pointing at
 * it, or the registry's Content-Type), used when the JSON leaves it out, as
 * OCI manifests may.
 */
export function summarizeManifest(manifestDigest: string, raw: Buffer, describedAs: string): ManifestSummary {
  // Parsed, not yet checked: an index or a schema1 manifest has no config or layers.
  const manifest = JSON.parse(raw.toString('utf8')) as Partial<ImageManifest>;
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new Error(`${manifestDigest} is not an image manifest: ${raw.toString('utf8').slice(0, 300)}`);
  }
  return {
    manifestDigest,
    mediaType: manifest.mediaType ?? describedAs,
    configDigest: manifest.config.digest,
    layerDigests: manifest.layers.map((layer) => layer.digest),
  };
}

/** The manifest an OCI image layout (as written by `skopeo copy … oci:<dir>:<tag>` or umoci) names by tag. */
export async function readLayoutManifest(dir: string, tag: string): Promise<ManifestSummary> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!entry) throw new Error(`${dir}/index.json has no manifest tagged ${tag}`);
  const raw = await readFile(blobPath(dir, entry.digest));
  return summarizeManifest(entry.digest, raw, entry.mediaType);
}

/**
 * Hashes every file in the layout's blobs/sha256/ and returns name → actual
 * digest, both as `sha256:<hex>`. A blob is intact when the two are equal;
 * a missing blob has no entry.
 */
export async function hashLayoutBlobs(dir: string): Promise<Map<string, string>> {
  const blobDir = join(dir, 'blobs', 'sha256');
  const hashes = new Map<string, string>();
  for (const name of await readdir(blobDir)) {
    hashes.set(`sha256:${name}`, await sha256FileDigest(join(blobDir, name)));
  }
  return hashes;
}

function blobPath(dir: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return join(dir, 'blobs', algorithm ?? '', hex ?? '');
}

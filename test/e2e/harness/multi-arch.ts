import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Digest } from './digest.js';
import { buildImage, type LocalImage } from './images.js';
import { summarizeManifest, type ManifestSummary } from './oci-layout.js';
import { fetchManifest } from './registry-api.js';
import { run } from './run.js';
import { skopeoCopy } from './skopeo.js';

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

export interface PlatformSpec {
  /** GOARCH spelling, as image configs and indexes write it: amd64, arm64. */
  architecture: string;
  layerSizes: readonly number[];
}

export interface MultiArchSpec {
  layoutDir: string;
  tag: string;
  platforms: readonly PlatformSpec[];
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/**
 * Builds one image per platform with umoci (its config's architecture set by `umoci config`),
 * then writes an OCI index over them into the same layout under `tag`. umoci has no command
 * for indexes, so the index blob and its index.json entry are written here.
 */
export async function buildMultiArchImage(spec: MultiArchSpec): Promise<LocalImage> {
  const { layoutDir, tag } = spec;
  for (const platform of spec.platforms) {
    const image = `${layoutDir}:${tag}-${platform.architecture}`;
    await buildImage({ layoutDir, tag: `${tag}-${platform.architecture}`, layerSizes: platform.layerSizes });
    await run('umoci', ['config', '--image', image, '--os', 'linux', '--architecture', platform.architecture]);
  }
  await run('umoci', ['gc', '--layout', layoutDir]);

  const indexFile = join(layoutDir, 'index.json');
  const layout = JSON.parse(await readFile(indexFile, 'utf8')) as { manifests: Descriptor[] };
  const manifests = spec.platforms.map((platform) => {
    const ref = `${tag}-${platform.architecture}`;
    const entry = layout.manifests.find((m) => m.annotations?.[REF_NAME] === ref);
    if (!entry) throw new Error(`${indexFile} has no manifest tagged ${ref}`);
    return { mediaType: entry.mediaType, digest: entry.digest, size: entry.size, platform: { architecture: platform.architecture, os: 'linux' } };
  });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
  const digest = sha256Digest(bytes);
  await writeFile(join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  layout.manifests.push({ mediaType: OCI_INDEX, digest, size: bytes.length, annotations: { [REF_NAME]: tag } });
  await writeFile(indexFile, JSON.stringify(layout));
  return { layoutDir, tag };
}

/** One image of an index, as a registry holds it. */
export interface PlatformImage {
  /** `linux/amd64`, as clients write platforms. */
  platform: string;
  manifest: ManifestSummary;
}

export interface PushedIndex {
  host: string;
  repository: string;
  tag: string;
  /** sha256 of the index bytes the registry serves for the tag. */
  indexDigest: string;
  mediaType: string;
  images: PlatformImage[];
}

/**
 * Pushes the index and every image in it (`skopeo copy --all`) to `host/repository:tag` (tag
 * defaults to the layout's), then reads all of it back from the registry.
 */
export async function pushMultiArchImage(image: LocalImage, target: { host: string; repository: string; tag?: string }): Promise<PushedIndex> {
  const { host, repository, tag = image.tag } = target;
  await skopeoCopy(`oci:${image.layoutDir}:${image.tag}`, `docker://${host}/${repository}:${tag}`, { all: true });
  const index = await fetchManifest(`http://${host}`, repository, tag);
  const descriptors = (JSON.parse(index.raw.toString('utf8')) as { manifests: Descriptor[] }).manifests;
  const images: PlatformImage[] = [];
  for (const d of descriptors) {
    const child = await fetchManifest(`http://${host}`, repository, d.digest);
    if (child.digest !== d.digest) throw new Error(`${host}/${repository}@${d.digest} served bytes hashing to ${child.digest}`);
    images.push({ platform: `${d.platform?.os}/${d.platform?.architecture}`, manifest: summarizeManifest(d.digest, child.raw, d.mediaType) });
  }
  return { host, repository, tag, indexDigest: index.digest, mediaType: index.mediaType, images };
}

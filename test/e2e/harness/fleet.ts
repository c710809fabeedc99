import { join } from 'node:path';
import { buildImage, KiB, MiB, pushImage } from './images.js';
import { buildMultiArchImage, pushMultiArchImage, type PlatformImage } from './multi-arch.js';
import { Pullthrough } from './pullthrough.js';
import { makeTempDir, removeDir } from './tmp.js';
import { UpstreamRegistry } from './upstream-registry.js';

/** The registries the fleet's upstreams play, as clients name them; the first is the mirror's default. */
export const REGISTRIES = ['docker.io', 'ghcr.io'] as const;
export type RegistryName = (typeof REGISTRIES)[number];

/** The images seeded into every upstream. */
export const IMAGE_KINDS = ['layers', 'multiarch', 'schema2', 'big'] as const;

/** What `_catalog` lists once every image was pulled from both upstreams (ghcr.io's under its prefix). */
export const CACHED_REPOSITORIES = IMAGE_KINDS.flatMap((kind) => [`e2e/${kind}`, `ghcr.io/e2e/${kind}`]);
export type ImageKind = (typeof IMAGE_KINDS)[number];

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** A 200 MiB layer: big enough to stream for a while, as real base images do. */
export const BIG_LAYER = 200 * MiB;
const TAG = '1.0';

/** An image one upstream holds, with what the registry itself serves for it. */
export interface SeededImage {
  registry: RegistryName;
  kind: ImageKind;
  /** The repository at the upstream (and, with the registry in front, what clients pull). */
  repository: string;
  tag: string;
  /** `<registry>/<repository>:<tag>`: the reference a client is told to pull. */
  reference: string;
  /** What the tag points at: the image manifest, or the index for multiarch. */
  digest: string;
  mediaType: string;
  /** The image manifest, or one per platform of the index. */
  images: PlatformImage[];
}

/**
 * Two real registries (Debian's docker-registry), one playing docker.io and one ghcr.io, each
 * seeded with its own random images under the same repository names (e2e/layers, e2e/multiarch,
 * e2e/schema2, e2e/big), and a pullthrough mirror in front of both. Same names, different bytes:
 * a request routed to the wrong upstream yields a wrong digest, not a pass.
 */
export class Fleet {
  private constructor(
    readonly work: string,
    readonly upstreams: ReadonlyMap<RegistryName, UpstreamRegistry>,
    readonly mirror: Pullthrough,
    readonly images: readonly SeededImage[],
  ) {}

  /** Starts and seeds everything; on failure stops what it started. dispose() it in afterAll. */
  static async start(label: string): Promise<Fleet> {
    const work = await makeTempDir(`${label}-fleet`);
    const upstreams = new Map<RegistryName, UpstreamRegistry>();
    let mirror: Pullthrough | undefined;
    try {
      for (const registry of REGISTRIES) upstreams.set(registry, await UpstreamRegistry.create());
      mirror = await Pullthrough.create({ upstreams: REGISTRIES.map((name) => ({ name, url: upstreams.get(name)!.url })) });
      // One layout per upstream, built side by side: umoci must not share a layout between runs.
      const seeded = await Promise.all(REGISTRIES.map((registry) => seed(join(work, registry), registry, upstreams.get(registry)!)));
      return new Fleet(work, upstreams, mirror, seeded.flat());
    } catch (err) {
      await Promise.allSettled([mirror?.dispose(), ...[...upstreams.values()].map((u) => u.dispose())]);
      await removeDir(work);
      throw err;
    }
  }

  image(registry: RegistryName, kind: ImageKind): SeededImage {
    const found = this.images.find((i) => i.registry === registry && i.kind === kind);
    if (!found) throw new Error(`no ${kind} image seeded for ${registry}`);
    return found;
  }

  /** Takes both upstreams away: from here on only the mirror's cache can serve. */
  async stopUpstreams(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.stop()));
  }

  /** Appends the ends of the mirror's and upstreams' logs to a client's failure. */
  async explain(err: unknown): Promise<Error> {
    const logs = [`--- pullthrough log (${this.mirror.logFile}) ---\n${await this.mirror.logTail(3000)}`];
    for (const [name, upstream] of this.upstreams) logs.push(`--- ${name} upstream log (${upstream.logFile}) ---\n${await upstream.logTail(1500)}`);
    return new Error(`${(err as Error).message}\n\n${logs.join('\n\n')}`, { cause: err });
  }

  async dispose(): Promise<void> {
    await Promise.allSettled([this.mirror.dispose(), ...[...this.upstreams.values()].map((u) => u.dispose())]);
    await removeDir(this.work);
  }
}

async function seed(layoutDir: string, registry: RegistryName, upstream: UpstreamRegistry): Promise<SeededImage[]> {
  const host = upstream.host;
  const made = (kind: ImageKind, digest: string, mediaType: string, images: PlatformImage[]): SeededImage => ({
    registry,
    kind,
    repository: `e2e/${kind}`,
    tag: TAG,
    reference: `${registry}/e2e/${kind}:${TAG}`,
    digest,
    mediaType,
    images,
  });
  const single = async (kind: ImageKind, layerSizes: number[], format?: 'v2s2'): Promise<SeededImage> => {
    const image = await buildImage({ layoutDir, tag: kind, layerSizes });
    const pushed = await pushImage(image, { host, repository: `e2e/${kind}`, tag: TAG, format });
    const { manifestDigest, mediaType, configDigest, layerDigests } = pushed;
    return made(kind, manifestDigest, mediaType, [{ platform: 'linux/amd64', manifest: { manifestDigest, mediaType, configDigest, layerDigests } }]);
  };

  const layers = await single('layers', [64 * KiB, MiB, 4 * MiB]);
  const schema2 = await single('schema2', [128 * KiB, 2 * MiB], 'v2s2');
  const big = await single('big', [BIG_LAYER, 16 * KiB]);
  const index = await buildMultiArchImage({
    layoutDir,
    tag: 'multiarch',
    platforms: [
      { architecture: 'amd64', layerSizes: [256 * KiB, 512 * KiB] },
      { architecture: 'arm64', layerSizes: [256 * KiB, 768 * KiB] },
    ],
  });
  const pushed = await pushMultiArchImage(index, { host, repository: 'e2e/multiarch', tag: TAG });
  const multiarch = made('multiarch', pushed.indexDigest, pushed.mediaType, pushed.images);

  // What each kind is for must hold, or a test would pass without covering it.
  const seeded = [layers, multiarch, schema2, big];
  const wanted: Record<ImageKind, string> = { layers: OCI_MANIFEST, multiarch: OCI_INDEX, schema2: DOCKER_MANIFEST, big: OCI_MANIFEST };
  for (const image of seeded) {
    if (image.mediaType !== wanted[image.kind]) throw new Error(`${host}/${image.repository}: ${image.mediaType}, expected ${wanted[image.kind]}`);
  }
  if (multiarch.images.map((i) => i.platform).join() !== 'linux/amd64,linux/arm64')
    throw new Error(`${host}/e2e/multiarch: platforms ${multiarch.images.map((i) => i.platform).join()}`);
  return seeded;
}

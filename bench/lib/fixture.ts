import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImage, KiB, MiB, pushImage, type PushedImage } from '../../test/e2e/harness/images.js';
import { fetchManifest } from '../../test/e2e/harness/registry-api.js';
import { makeTempDir } from '../../test/e2e/harness/tmp.js';
import { UpstreamRegistry } from '../../test/e2e/harness/upstream-registry.js';
import type { BenchConfig } from './config.js';
import { adopt, tempDirResource } from './lifetime.js';
import { download } from './load.js';
import { Mirror, MIRROR_KINDS, type MirrorKind } from './mirrors.js';
import { NginxStatic } from './nginx.js';

export const TAG = '1.0';
/** A small multi-layer image, for manifests and whole-image copies. */
const MULTI_LAYERS = [64 * KiB, MiB, 4 * MiB, 16 * MiB, 32 * MiB];

export interface SeededBlob {
  repository: string;
  digest: string;
  size: number;
  /** Its path in the OCI layout, which nginx serves as its root. */
  layoutPath: string;
}

export interface SeededImage {
  repository: string;
  tag: string;
  manifestDigest: string;
}

/** What every scenario shares: the upstream with its images, nginx, and one warm instance of each mirror. */
export interface Fixture {
  config: BenchConfig;
  work: string;
  upstream: UpstreamRegistry;
  nginx: NginxStatic;
  /** Started once, warmed with the multi-layer image's manifests and the big blob. */
  warm: Record<MirrorKind, Mirror>;
  multi: SeededImage;
  big: SeededBlob;
  herd: SeededBlob;
}

export function blobUrl(baseUrl: string, blob: SeededBlob): string {
  return `${baseUrl}/v2/${blob.repository}/blobs/${blob.digest}`;
}

export function manifestUrl(baseUrl: string, image: SeededImage, reference: string): string {
  return `${baseUrl}/v2/${image.repository}/manifests/${reference}`;
}

/** Big-blob transfers on loopback take seconds; this only stops a hang. */
const TRANSFER_TIMEOUT_MS = 120_000;

/**
 * Builds and pushes the images (random bytes: every run's digests are new, so
 * nothing is cached anywhere by accident), starts nginx over the layout, and
 * starts and warms both mirrors. Everything is adopted, so disposeAll()
 * removes it.
 */
export async function setUpFixture(config: BenchConfig, log: (line: string) => void): Promise<Fixture> {
  const work = adopt(tempDirResource(await makeTempDir('bench'))).dir;
  const layoutDir = join(work, 'seed');
  const upstream = adopt(await UpstreamRegistry.create());
  log(`upstream docker-registry at ${upstream.url}`);

  log(`building and pushing images (layers of ${MULTI_LAYERS.join(', ')} B; ${config.bigLayerBytes} B; ${config.herdLayerBytes} B)`);
  const multi = await seedImage(upstream, layoutDir, 'library/bench-multi', MULTI_LAYERS);
  const big = await seedBlob(upstream, layoutDir, 'library/bench-big', config.bigLayerBytes);
  const herd = await seedBlob(upstream, layoutDir, 'library/bench-herd', config.herdLayerBytes);

  const nginx = adopt(await NginxStatic.create(layoutDir));
  const warm = {} as Record<MirrorKind, Mirror>;
  for (const kind of MIRROR_KINDS) {
    warm[kind] = adopt(await Mirror.start(kind, upstream.url, config));
    log(`${kind} at ${warm[kind].url}: warming`);
    await warmUp(warm[kind].url, multi, big);
  }
  // Once through nginx too, so all three serve the big blob from a warm page cache.
  await download(`${nginx.url}/${big.layoutPath}`, 1, big.size, TRANSFER_TIMEOUT_MS);
  return { config, work, upstream, nginx, warm, multi, big, herd };
}

/** Builds an image of random layers into the shared layout (one layout tag per repository) and pushes it as `repository:1.0`. */
async function push(upstream: UpstreamRegistry, layoutDir: string, repository: string, layers: readonly number[]): Promise<PushedImage> {
  const image = await buildImage({ layoutDir, tag: repository.split('/').pop()!, layerSizes: layers });
  return pushImage(image, { host: upstream.host, repository, tag: TAG });
}

async function seedImage(upstream: UpstreamRegistry, layoutDir: string, repository: string, layers: readonly number[]): Promise<SeededImage> {
  const pushed = await push(upstream, layoutDir, repository, layers);
  return { repository, tag: TAG, manifestDigest: pushed.manifestDigest };
}

/** A one-layer image; the layer is the blob the transfer scenarios move. */
async function seedBlob(upstream: UpstreamRegistry, layoutDir: string, repository: string, bytes: number): Promise<SeededBlob> {
  const pushed = await push(upstream, layoutDir, repository, [bytes]);
  const digest = pushed.layerDigests[0]!;
  const layoutPath = `blobs/sha256/${digest.slice('sha256:'.length)}`;
  return { repository, digest, size: (await stat(join(layoutDir, layoutPath))).size, layoutPath };
}

/** Puts the tag, the manifest by digest and the big blob in a mirror's cache, checking they are the seeded bytes. */
async function warmUp(baseUrl: string, image: SeededImage, big: SeededBlob): Promise<void> {
  for (const reference of [image.tag, image.manifestDigest]) {
    const { digest } = await fetchManifest(baseUrl, image.repository, reference);
    if (digest !== image.manifestDigest) throw new Error(`${baseUrl}: ${image.repository}:${reference} is ${digest}, seeded ${image.manifestDigest}`);
  }
  await download(blobUrl(baseUrl, big), 1, big.size, TRANSFER_TIMEOUT_MS);
}

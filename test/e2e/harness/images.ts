import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { summarizeManifest, type ManifestSummary } from './oci-layout.js';
import { fetchManifest } from './registry-api.js';
import { run } from './run.js';
import { skopeoCopy, type ManifestFormat } from './skopeo.js';
import { makeTempDir, removeDir } from './tmp.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface BuildSpec {
  /** OCI image layout dir; created if missing, and may hold several tags. */
  layoutDir: string;
  tag: string;
  /** One layer per entry: a single file of this many random bytes (≥ 1), so every run's digests are new. */
  layerSizes: readonly number[];
}

/** An image in a local OCI layout, ready to push. */
export interface LocalImage {
  layoutDir: string;
  tag: string;
}

/**
 * Builds an image with umoci: an empty image, then one `umoci raw add-layer`
 * per size (umoci gzips each tar and writes manifest + config). Random bytes
 * rather than a base image keep the test offline and make each run's blobs
 * unknown to any cache. Big layers are fine: /dev/urandom streams ~1 GB/s.
 */
export async function buildImage(spec: BuildSpec): Promise<LocalImage> {
  const { layoutDir, tag, layerSizes } = spec;
  // umoci and skopeo's oci: transport both split `<path>:<tag>` at a colon.
  if (layoutDir.includes(':')) throw new Error(`layout path must not contain ':': ${layoutDir}`);
  const image = `${layoutDir}:${tag}`;
  if (!existsSync(join(layoutDir, 'index.json'))) await run('umoci', ['init', '--layout', layoutDir]);
  await run('umoci', ['new', '--image', image]);

  const staging = await makeTempDir('layer');
  try {
    for (const [i, size] of layerSizes.entries()) {
      const tarFile = await randomLayerTar(staging, i, size);
      await run('umoci', ['raw', 'add-layer', '--image', image, '--history.created_by', `e2e layer ${i}: ${size} random bytes`, tarFile]);
      await rm(tarFile); // big layers: keep at most one tar on disk
    }
  } finally {
    await removeDir(staging);
  }
  // add-layer leaves each intermediate manifest and config behind.
  await run('umoci', ['gc', '--layout', layoutDir]);
  return { layoutDir, tag };
}

/** A tar holding `e2e/layer-<i>.bin` of `size` random bytes. */
async function randomLayerTar(staging: string, i: number, size: number): Promise<string> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`layer size must be a positive integer, got ${size}`);
  const root = join(staging, `rootfs-${i}`);
  await mkdir(join(root, 'e2e'), { recursive: true });
  await pipeline(createReadStream('/dev/urandom', { end: size - 1 }), createWriteStream(join(root, 'e2e', `layer-${i}.bin`)));
  const tarFile = join(staging, `layer-${i}.tar`);
  await run('tar', ['-C', root, '--owner=0', '--group=0', '--numeric-owner', '-cf', tarFile, 'e2e']);
  await removeDir(root);
  return tarFile;
}

export interface PushTarget {
  /** Registry host:port, plain HTTP. */
  host: string;
  repository: string;
  /** Defaults to the local image's tag. */
  tag?: string;
  /** 'v2s2' pushes a Docker schema2 manifest; by default the OCI manifest goes as is. */
  format?: ManifestFormat;
}

/** What a registry now holds, read back from it rather than predicted. */
export interface PushedImage extends ManifestSummary {
  host: string;
  repository: string;
  tag: string;
}

/**
 * Pushes with `skopeo copy oci:… docker://…` and reads the manifest back from
 * the registry: with --format v2s2 skopeo rewrites the manifest and config,
 * so the registry's bytes, not the layout's, define the digests.
 */
export async function pushImage(image: LocalImage, target: PushTarget): Promise<PushedImage> {
  const tag = target.tag ?? image.tag;
  await skopeoCopy(`oci:${image.layoutDir}:${image.tag}`, `docker://${target.host}/${target.repository}:${tag}`, {
    format: target.format,
  });
  const manifest = await fetchManifest(`http://${target.host}`, target.repository, tag);
  return {
    ...summarizeManifest(manifest.digest, manifest.raw, manifest.mediaType),
    host: target.host,
    repository: target.repository,
    tag,
  };
}

import pLimit from 'p-limit';
import type { MirrorCache } from '../cache/mirror.js';
import { parseDigest } from '../oci/digest.js';
import { parseReference } from '../oci/reference.js';
import type { Route } from '../upstream/routing.js';
import { formatImageRef, type ImageRef } from './image-ref.js';
import { platformMatches, type Platform } from '../oci/platforms.js';

export interface WarmOptions {
  /** Platforms to fetch from a multi-arch index; undefined: all of them. */
  platforms?: Platform[];
  /** Blobs fetched at once, across all images. */
  concurrency: number;
}

/** What the progress display is told; every callback is optional work for it, never for warm. */
export interface WarmProgress {
  planned(image: string, blobs: number, bytes: number): void;
  transferred(image: string, bytes: number): void;
  blobDone(image: string, digest: string, cached: boolean): void;
  finished(image: string, error?: Error): void;
}

export interface WarmResult {
  image: string;
  blobs: number;
  bytes: number;
  /** Blobs that were already cached. */
  cached: number;
  error?: Error;
}

interface Descriptor {
  digest: string;
  size?: number;
  platform?: Partial<Platform>;
}

interface ManifestJson {
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/**
 * Fills the cache through the same pull-through code the server runs: each image's manifest,
 * the chosen platforms' manifests of an index, and every config and layer blob. Blobs already
 * cached are not read; missing ones are fetched, verified and stored as on a client's pull.
 */
export async function warmImages(mirror: MirrorCache, refs: ImageRef[], opts: WarmOptions, progress: WarmProgress): Promise<WarmResult[]> {
  const limit = pLimit(opts.concurrency);
  return Promise.all(refs.map((ref) => warmImage(mirror, ref, opts, progress, limit)));
}

async function warmImage(mirror: MirrorCache, ref: ImageRef, opts: WarmOptions, progress: WarmProgress, limit: ReturnType<typeof pLimit>): Promise<WarmResult> {
  const image = formatImageRef(ref);
  const result: WarmResult = { image, blobs: 0, bytes: 0, cached: 0 };
  try {
    const route = mirror.router.route(ref.name, ref.host);
    const blobs = await collectBlobs(mirror, route, ref.reference, opts.platforms);
    progress.planned(
      image,
      blobs.length,
      blobs.reduce((n, b) => n + (b.size ?? 0), 0),
    );
    await Promise.all(
      blobs.map((blob) =>
        limit(async () => {
          const cached = await fetchBlob(mirror, route, blob.digest, (n) => progress.transferred(image, n));
          result.blobs += 1;
          result.bytes += blob.size ?? 0;
          if (cached) result.cached += 1;
          progress.blobDone(image, blob.digest, cached);
        }),
      ),
    );
    progress.finished(image);
  } catch (err) {
    result.error = err instanceof Error ? err : new Error(String(err));
    progress.finished(image, result.error);
  }
  return result;
}

/** Configs and layers of the image, or of the chosen platforms' images of an index. */
async function collectBlobs(mirror: MirrorCache, route: Route, reference: string, platforms?: Platform[]): Promise<Descriptor[]> {
  const { manifest } = await mirror.manifests.getManifest(route, parseReference(reference));
  const parsed = JSON.parse(manifest.body.toString('utf8')) as ManifestJson;
  if (parsed.manifests) {
    const chosen = parsed.manifests.filter((m) => !platforms || platforms.some((p) => platformMatches(p, m.platform)));
    if (chosen.length === 0) throw new Error(`no manifest for ${platforms?.map(describePlatform).join(', ')} in the index`);
    const nested = await Promise.all(chosen.map((m) => collectBlobs(mirror, route, m.digest, undefined)));
    return dedupe(nested.flat());
  }
  // A single-platform image names its platform only in its config: check it, rather than warm the wrong one.
  if (platforms && parsed.config) {
    const config = JSON.parse((await readBlob(mirror, route, parsed.config.digest)).toString('utf8')) as Partial<Platform>;
    if (!platforms.some((p) => platformMatches(p, config))) {
      throw new Error(
        `the image is ${describePlatform({ os: config.os ?? '?', architecture: config.architecture ?? '?', variant: config.variant })} only, not ${platforms.map(describePlatform).join(', ')}`,
      );
    }
  }
  return dedupe([...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]);
}

/** A small blob's bytes (an image config), fetched and stored as on a pull if it is not cached. */
async function readBlob(mirror: MirrorCache, route: Route, digest: string): Promise<Buffer> {
  const blob = await mirror.blobs.getBlob(route, parseDigest(digest));
  const chunks: Buffer[] = [];
  for await (const chunk of await blob.open()) chunks.push(chunk as Buffer);
  await blob.stored;
  return Buffer.concat(chunks);
}

/** Makes sure one blob is stored; true when it already was. */
async function fetchBlob(mirror: MirrorCache, route: Route, digest: string, transferred: (bytes: number) => void): Promise<boolean> {
  const blob = await mirror.blobs.getBlob(route, parseDigest(digest));
  if (blob.cache === 'hit') return true;
  const stream = await blob.open();
  for await (const chunk of stream) transferred((chunk as Buffer).length);
  await blob.stored;
  return false;
}

function dedupe(descriptors: Descriptor[]): Descriptor[] {
  return [...new Map(descriptors.map((d) => [d.digest, d])).values()];
}

function describePlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

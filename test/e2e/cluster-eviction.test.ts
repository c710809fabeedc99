// Eviction across replicas: three pullthrough processes on one RGW bucket, sharing one
// redis-server (cluster.redis), in front of a local docker-registry, with cache.maxSize about three
// images. Images pulled one after another through different replicas: the bucket stays within the
// bound however the pulls are spread, and the image pulled last survives whichever replica served
// it and whichever replica evicts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { RGW_START_TIMEOUT_MS, RgwGateway } from '../storage/rgw.js';
import { buildImage, KiB, MiB, pushImage, type PushedImage } from './harness/images.js';
import { Pullthrough } from './harness/pullthrough.js';
import { RedisServer } from './harness/redis.js';
import { fetchManifest } from './harness/registry-api.js';
import { skopeoCopy } from './harness/skopeo.js';
import { makeTempDir, removeDir } from './harness/tmp.js';
import { UpstreamRegistry } from './harness/upstream-registry.js';

// Generous, for slow CI disks; nothing here asserts how long anything takes.
const TIMEOUT_MS = 240_000;
const IMAGES = 7;
/** Each image: a 4 MiB layer and a small one, random, so each is about 4.3 MB in the bucket. */
const LAYERS = [4 * MiB, 256 * KiB];

let s3: RgwGateway | undefined;
let redis: RedisServer | undefined;
let upstream: UpstreamRegistry | undefined;
let work: string | undefined;
let bucket: string;
let replicas: Pullthrough[] = [];
const images: (PushedImage & { bytes: number })[] = [];
let maxSize: number;

beforeAll(async () => {
  s3 = await RgwGateway.start();
  bucket = await s3.createBucket();
  [redis, upstream, work] = await Promise.all([RedisServer.start(), UpstreamRegistry.create(), makeTempDir('cluster-eviction')]);
  for (let i = 0; i < IMAGES; i++) {
    const local = await buildImage({ layoutDir: join(work, 'layout'), tag: `img${i}`, layerSizes: LAYERS });
    const pushed = await pushImage(local, { host: upstream.host, repository: `e2e/evict${i}`, tag: '1.0' });
    images.push({ ...pushed, bytes: await imageBytes(pushed) });
  }
  // About three images: the fourth pull must make room.
  maxSize = Math.floor(3.2 * Math.max(...images.map((i) => i.bytes)));
  const storage = { driver: 's3', s3: { bucket, endpoint: s3.endpoint, forcePathStyle: true, ...s3.credentials(), partSize: '5MiB' } };
  const config = { cache: { maxSize }, cluster: { redis: redis.url } };
  replicas = await Promise.all([1, 2, 3].map(() => Pullthrough.create({ upstreams: [{ name: 'docker.io', url: upstream!.url }], storage, config })));
}, RGW_START_TIMEOUT_MS + TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled(replicas.map((r) => r.dispose()));
  await Promise.allSettled([upstream?.dispose(), redis?.dispose(), s3?.stop(), work ? removeDir(work) : undefined]);
}, TIMEOUT_MS);

/** Manifest, config and layers: what the image puts under blobs/ (sizes as the registry states them). */
async function imageBytes(image: PushedImage): Promise<number> {
  const manifest = await fetchManifest(`http://${image.host}`, image.repository, image.tag);
  const parsed = JSON.parse(manifest.raw.toString('utf8')) as { config: { size: number }; layers: { size: number }[] };
  return manifest.raw.length + parsed.config.size + parsed.layers.reduce((t, l) => t + l.size, 0);
}

/** The bucket's blobs/ as the bucket lists it: key → size. What maxSize bounds. */
async function storedBlobs(): Promise<Map<string, number>> {
  const client = s3!.client();
  try {
    const found = new Map<string, number>();
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: 'blobs/' })) {
      for (const o of page.Contents ?? []) found.set(o.Key!, o.Size ?? 0);
    }
    return found;
  } finally {
    client.destroy();
  }
}

const total = (blobs: Map<string, number>) => [...blobs.values()].reduce((t, n) => t + n, 0);
/** Spelt out, not taken from src/storage/paths.ts: the layout in the bucket is what is checked. */
const blobKey = (digest: string) => `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;
const digestsOf = (image: PushedImage) => [image.manifestDigest, image.configDigest, ...image.layerDigests];
const stored = (blobs: Map<string, number>, image: PushedImage) => digestsOf(image).every((d) => blobs.has(blobKey(d)));

/** Lines of the replica's log that say it evicted. */
async function evictionRounds(mirror: Pullthrough): Promise<number> {
  return (await readFile(mirror.logFile, 'utf8')).split('\n').filter((l) => l.includes('evicted least recently used')).length;
}

/**
 * The bucket once the pulled image's blobs are committed, eviction brought the total under the
 * bound, and nothing changed for 1.5 s (a round deletes blob by blob; the evictors look every
 * second). Commits and rounds run after the client has its bytes. Gives up after 30 s and returns
 * what is there.
 */
async function settled(image: PushedImage): Promise<Map<string, number>> {
  let last = '';
  let since = Date.now();
  for (const deadline = Date.now() + 30_000; ; await new Promise((resolve) => setTimeout(resolve, 250))) {
    const blobs = await storedBlobs();
    const keys = [...blobs.keys()].sort().join();
    if (keys !== last) [last, since] = [keys, Date.now()];
    const done = stored(blobs, image) && total(blobs) <= maxSize && Date.now() - since >= 1_500;
    if (done || Date.now() > deadline) return blobs;
  }
}

describe('eviction across 3 replicas on one bucket, with Redis', () => {
  test(
    `${IMAGES} images pulled in turn through 3 replicas: the bucket stays within maxSize and the last pulled image survives`,
    async () => {
      const before = await redis!.commandCounts();
      let peak = 0;
      const sampling = new AbortController();
      const sampler = (async () => {
        while (!sampling.signal.aborted) {
          peak = Math.max(peak, total(await storedBlobs()));
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      const afterEach: { pulled: number; through: number; bytes: number; images: number[] }[] = [];
      for (let i = 0; i < IMAGES; i++) {
        const image = images[i]!;
        // Every replica in turn, and the pull after a round lands on a replica that did not evict last.
        const through = (i * 2) % 3;
        const dir = join(work!, `pull${i}`);
        await skopeoCopy(`docker://${replicas[through]!.host}/${image.repository}:${image.tag}`, `oci:${dir}:${image.tag}`);
        const blobs = await settled(image);
        afterEach.push({ pulled: i, through, bytes: total(blobs), images: images.flatMap((img, n) => (stored(blobs, img) ? [n] : [])) });
      }
      sampling.abort();
      await sampler;
      const after = await redis!.commandCounts();
      const commands = Object.entries(after)
        .map(([name, calls]) => [name, calls - (before[name] ?? 0)] as const)
        .filter(([name, n]) => n > 0 && name !== 'info');
      const rounds = await Promise.all(replicas.map(evictionRounds));
      // One warm pull of the newest image through a replica that did not fetch it: Redis's share of a cached pull.
      const newest = images.at(-1)!;
      const beforeWarm = await redis!.commandCounts();
      await skopeoCopy(`docker://${replicas[1]!.host}/${newest.repository}:${newest.tag}`, `oci:${join(work!, 'warm')}:${newest.tag}`);
      const warm = Object.entries(await redis!.commandCounts())
        .map(([name, calls]) => [name, calls - (beforeWarm[name] ?? 0) - (name === 'info' ? 1 : 0)] as const)
        .filter(([, n]) => n > 0);

      // The figures for the record (docs/scaling.md quotes them).
      const mb = (n: number) => (n / 1e6).toFixed(2);
      const lines = [
        `cluster eviction: maxSize ${mb(maxSize)} MB (image ${mb(images[0]!.bytes)} MB); peak ${mb(peak)} MB; final ${mb(afterEach.at(-1)!.bytes)} MB`,
        ...afterEach.map((s) => `  after pull ${s.pulled} (replica ${s.through}): ${mb(s.bytes)} MB, images stored ${s.images.join(',')}`),
        `  eviction rounds per replica: ${rounds.join(', ')}`,
        `  redis commands for ${IMAGES} pulls: ${commands.map(([n, c]) => `${n} ${c}`).join(', ')} (${(commands.reduce((t, [, c]) => t + c, 0) / IMAGES).toFixed(1)} per pull)`,
        `  redis commands for one warm pull (${digestsOf(newest).length} objects): ${warm.map(([n, c]) => `${n} ${c}`).join(', ')}`,
      ];
      process.stderr.write(`${lines.join('\n')}\n`);

      for (const s of afterEach) expect(s.bytes).toBeLessThanOrEqual(maxSize);
      // The image just pulled is always there, whichever replica served it and whichever evicted.
      for (const s of afterEach) expect(s.images).toContain(s.pulled);
      // Eviction happened (the earliest images are gone), one round each time the bound was passed,
      // by whichever replica took the lease: not one per replica.
      expect(afterEach.at(-1)!.images).not.toContain(0);
      const passes = afterEach.filter((s, i) => i > 0 && afterEach[i - 1]!.images.some((n) => !s.images.includes(n))).length;
      expect(rounds.reduce((t, n) => t + n, 0)).toBe(passes);
      // What is left are the newest images (LRU order is the cluster's, not one replica's), and no
      // fewer than fit under the round's low watermark (90%): two replicas evicting at once would
      // each remove an image.
      const fit = Math.min(IMAGES, Math.floor((0.9 * maxSize) / Math.max(...images.map((i) => i.bytes))));
      for (const s of afterEach) {
        const newest = Array.from({ length: s.images.length }, (_, k) => s.pulled - s.images.length + 1 + k);
        expect([s.pulled, s.images]).toEqual([s.pulled, newest]);
        expect(s.images.length).toBeGreaterThanOrEqual(Math.min(fit, s.pulled + 1));
      }
    },
    TIMEOUT_MS,
  );
});

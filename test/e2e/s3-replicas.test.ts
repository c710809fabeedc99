// Pullthrough processes (replicas) sharing one bucket on Ceph's RGW (scripts/rgw.sh), in front of
// the in-process fake Docker Hub: what one replica caches the other serves without asking
// upstream, two replicas caching the same blob at once leave one object, and a herd of cold pulls
// spread over three replicas gets whole, verified bytes.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { FakeHub } from '../fixtures/fake-hub.js';
import { RGW_START_TIMEOUT_MS, RgwGateway } from '../storage/rgw.js';
import { sha256Digest } from './harness/digest.js';
import { httpGet } from './harness/http.js';
import { Pullthrough } from './harness/pullthrough.js';
import { fetchCatalog, fetchManifest } from './harness/registry-api.js';

// Generous, for slow CI disks; nothing here asserts how long anything takes.
const TIMEOUT_MS = 120_000;
const MiB = 2 ** 20;

let s3: RgwGateway | undefined;
let hub: FakeHub | undefined;
let bucket: string;
let a: Pullthrough | undefined;
let b: Pullthrough | undefined;
let c: Pullthrough | undefined;

beforeAll(async () => {
  s3 = await RgwGateway.start();
  bucket = await s3.createBucket();
  hub = await FakeHub.start();
  // The config a user would write (see config/s3.yaml), with the gateway's test user.
  const storage = {
    driver: 's3',
    s3: { bucket, endpoint: s3.endpoint, forcePathStyle: true, ...s3.credentials(), partSize: '5MiB', queueSize: 2 },
  };
  const upstreams = [{ name: 'docker.io', url: hub.url }];
  [a, b, c] = await Promise.all([1, 2, 3].map(() => Pullthrough.create({ upstreams, storage })));
}, RGW_START_TIMEOUT_MS + TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([a?.dispose(), b?.dispose(), c?.dispose()]);
  await Promise.allSettled([hub?.close(), s3?.stop()]);
}, TIMEOUT_MS);

/** Spelt out, not taken from src/storage/paths.ts: the layout in the bucket is what is checked. */
const blobKey = (digest: string) => `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

/** A blob through a mirror, checked against its digest; failures quote the mirror's log. */
async function getBlob(mirror: Pullthrough, repository: string, digest: string): Promise<Buffer> {
  const url = `${mirror.url}/v2/${repository}/blobs/${digest}`;
  const res = await httpGet(url, { timeoutMs: 60_000 });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 300)}\n${await mirror.logTail(2000)}`);
  expect(sha256Digest(res.body)).toBe(digest);
  return res.body;
}

/** What a client's pull does: the manifest by tag, then the config and every layer. Returns digest → bytes. */
async function pull(mirror: Pullthrough, repository: string, tag: string): Promise<Map<string, Buffer>> {
  const manifest = await fetchManifest(mirror.url, repository, tag);
  const parsed = JSON.parse(manifest.raw.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  const pulled = new Map<string, Buffer>([[manifest.digest, manifest.raw]]);
  for (const { digest } of [parsed.config, ...parsed.layers]) pulled.set(digest, await getBlob(mirror, repository, digest));
  return pulled;
}

/** The mirror's error-level log lines (pino level 50+): a failed upload would downgrade a fetch to pass-through, silently for the client. */
async function errorLines(mirror: Pullthrough): Promise<string[]> {
  const lines = (await readFile(mirror.logFile, 'utf8')).split('\n');
  return lines.filter((l) => /"level":(5|6)\d/.test(l));
}

/**
 * The bucket's keys once every blob of `digests` is stored and no multipart upload is pending: a
 * replica commits (PutObject, or CompleteMultipartUpload) after its clients got their bytes, as
 * the commit is on no client's path, so a check right after a pull would race it. Gives up after
 * 30 s and returns what is there.
 */
async function settledKeys(digests: readonly string[]): Promise<string[]> {
  for (const deadline = Date.now() + 30_000; ; await new Promise((resolve) => setTimeout(resolve, 100))) {
    const keys = await s3!.allKeys(bucket);
    const settled = digests.every((d) => keys.includes(blobKey(d))) && !keys.some((k) => k.includes('multipart upload'));
    if (settled || Date.now() > deadline) return keys;
  }
}

/** Upstream requests that move blob bytes: the registry's blob GETs and the CDN's. */
const upstreamBlobRequests = (digest?: string) =>
  hub!.requests.filter((r) => (r.kind === 'blob' || r.role === 'cdn') && (digest === undefined || r.digest === digest)).length;

describe('replicas on one S3 bucket', () => {
  test(
    'a pull through A fills the bucket; the same pull through B makes no upstream blob request and serves the same bytes',
    async () => {
      // 12 MiB + 1 B: three parts of 5 MiB, so the multipart path is the one shared.
      const image = hub!.addImage('library/app', '1.0', { layers: [randomBytes(12 * MiB + 1), randomBytes(300_000), randomBytes(1000)] });
      const blobs = [image.config, ...image.layers];

      const throughA = await pull(a!, 'library/app', '1.0');
      expect([...throughA.keys()]).toEqual([image.digest, ...blobs]);
      expect(upstreamBlobRequests()).toBeGreaterThanOrEqual(blobs.length);
      const keys = await settledKeys([image.digest, ...blobs]);
      for (const digest of [image.digest, ...blobs]) expect(keys).toContain(blobKey(digest));
      expect(keys.filter((k) => k.includes('multipart upload'))).toEqual([]);

      hub!.resetCounts();
      const throughB = await pull(b!, 'library/app', '1.0');
      expect(upstreamBlobRequests()).toBe(0);
      // Not even the manifest: the tag A stored (with its check time) is younger than tagTTL for B too.
      expect(hub!.requests.map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect([...throughB.keys()]).toEqual([...throughA.keys()]);
      for (const [digest, bytes] of throughA) expect(throughB.get(digest)!.equals(bytes)).toBe(true);
    },
    TIMEOUT_MS,
  );

  test(
    'concurrent cold pulls of one blob through A and B: both fetch it, one object remains, no upload is left',
    async () => {
      const layer = randomBytes(11 * MiB + 12_345);
      const image = hub!.addImage('library/race', '1.0', { layers: [layer] });
      const digest = image.layers[0]!;
      // Slow bodies (about 2 s each), and B asked only once A's transfer is under way: B finds no
      // object yet, so both replicas fetch and upload the blob at the same time.
      hub!.fault({ kind: 'slow', digest, chunkBytes: 512 * 1024, delayMs: 80 });
      hub!.resetCounts();

      const pullA = getBlob(a!, 'library/race', digest);
      for (let waited = 0; hub!.count({ role: 'cdn', digest }) === 0; waited += 10) {
        if (waited > 30_000) throw new Error(`A never fetched the blob:\n${await a!.logTail(2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const [fromA, fromB] = await Promise.all([pullA, getBlob(b!, 'library/race', digest)]);
      hub!.clearFaults();
      expect(fromA.equals(layer)).toBe(true);
      expect(fromB.equals(layer)).toBe(true);
      // The race really happened: each replica fetched the blob from upstream and uploaded it, and
      // neither upload failed (that would only show in the log: the client still gets its bytes).
      expect(hub!.count({ role: 'cdn', digest, status: 200 })).toBe(2);
      expect([...(await errorLines(a!)), ...(await errorLines(b!))]).toEqual([]);

      // Content addressing: both uploads wrote the same bytes under the same key; one object is left,
      // no temp beside it, and no multipart upload pending anywhere in the bucket.
      const key = blobKey(digest);
      const keys = await settledKeys([digest]);
      expect(keys.filter((k) => k.startsWith(key.slice(0, key.lastIndexOf('/') + 1)))).toEqual([key]);
      expect(keys.filter((k) => k.includes(digest.slice(7)))).toEqual([key]);
      expect(keys.filter((k) => k.includes('multipart upload'))).toEqual([]);
      const client = s3!.client();
      const stored = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from(await stored.Body!.transformToByteArray());
      client.destroy();
      expect(sha256Digest(bytes)).toBe(digest);

      // And both replicas now serve it from the bucket.
      hub!.resetCounts();
      for (const mirror of [a!, b!]) expect((await getBlob(mirror, 'library/race', digest)).equals(layer)).toBe(true);
      expect(upstreamBlobRequests(digest)).toBe(0);
    },
    TIMEOUT_MS,
  );

  test(
    'a herd of 30 cold pulls over 3 replicas: every client gets every blob whole (digest checked), one object per blob, at most one upstream GET per replica',
    async () => {
      // 21 MiB + 1 B (five 5 MiB parts) and a small layer; slowed a little, so the herd arrives
      // while the three replicas' fetches and uploads are under way.
      const image = hub!.addImage('library/herd', '1.0', { layers: [randomBytes(21 * MiB + 1), randomBytes(200_000)] });
      const blobs = [image.config, ...image.layers];
      hub!.fault({ kind: 'slow', digest: image.layers[0]!, chunkBytes: 1024 * 1024, delayMs: 40 });
      hub!.resetCounts();
      const replicas = [a!, b!, c!];
      const clients = Array.from({ length: 30 }, (_, i) => replicas[i % 3]!);
      const outcomes = await Promise.all(
        clients.map(async (mirror, i) => {
          try {
            const manifest = await fetchManifest(mirror.url, 'library/herd', '1.0');
            if (manifest.digest !== image.digest) return `client ${i}: manifest ${manifest.digest}`;
            for (const digest of blobs) {
              const res = await httpGet(`${mirror.url}/v2/library/herd/blobs/${digest}`, { timeoutMs: 90_000 });
              if (res.status !== 200 || sha256Digest(res.body) !== digest) {
                return `client ${i}: ${digest.slice(7, 19)}: HTTP ${res.status}, ${res.body.length} bytes, sha256 ${sha256Digest(res.body).slice(7, 19)}`;
              }
            }
            return 'ok';
          } catch (err) {
            return `client ${i}: ${(err as Error).message}`;
          }
        }),
      );
      hub!.clearFaults();
      // Each fetch is a registry GET (a 307) and a CDN GET (the bytes): count the bytes.
      const perBlob = blobs.map((digest) => hub!.count({ role: 'cdn', digest }));
      // The figure for the record: clients right out of 30, and upstream blob GETs per blob.
      process.stderr.write(
        `herd: ${outcomes.filter((o) => o === 'ok').length} of 30 clients right; upstream GETs (CDN, bytes) per blob: ${perBlob.join(', ')}\n`,
      );
      expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
      // No shared single flight without cluster.redis: each replica fetches a missing blob once.
      for (const n of perBlob) expect(n).toBeGreaterThanOrEqual(1);
      for (const n of perBlob) expect(n).toBeLessThanOrEqual(replicas.length);
      const keys = await settledKeys(blobs);
      expect((await Promise.all(replicas.map(errorLines))).flat()).toEqual([]);
      for (const digest of blobs) expect(keys.filter((k) => k.includes(digest.slice(7)))).toEqual([blobKey(digest)]);
      expect(keys.filter((k) => k.includes('multipart upload'))).toEqual([]);
    },
    TIMEOUT_MS,
  );

  test(
    "B's catalog lists what only A cached",
    async () => {
      const image = hub!.addImage('team/only-a', 'v1');
      expect((await fetchManifest(a!.url, 'team/only-a', 'v1')).digest).toBe(image.digest);
      const catalog = await fetchCatalog(b!.url);
      expect(catalog).toContain('team/only-a');
      expect(catalog).toEqual(await fetchCatalog(a!.url));
    },
    TIMEOUT_MS,
  );
});

// Cluster mode: three pullthrough processes on one RGW bucket sharing one redis-server
// (cluster.redis), in front of a local docker-registry, act as one cache: a cold herd over the
// three costs the upstream one GET per blob and per manifest; a replica killed (-9) while it holds
// a blob's lease is taken over by another; Redis killed mid-run costs no pull, and coordination
// resumes once it is back. The registry is reached through a TCP relay that can slow its answers,
// so a transfer lasts long enough to kill its replica in the middle.
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { RGW_START_TIMEOUT_MS, RgwGateway, pendingUploads } from '../storage/rgw.js';
import { sha256Digest } from './harness/digest.js';
import { httpGet } from './harness/http.js';
import { buildImage, KiB, MiB, pushImage, type PushedImage } from './harness/images.js';
import { freePort, LOOPBACK } from './harness/ports.js';
import { Pullthrough } from './harness/pullthrough.js';
import { RedisServer } from './harness/redis.js';
import { readRequestLog } from './harness/request-log.js';
import { skopeoCopy } from './harness/skopeo.js';
import { makeTempDir, removeDir } from './harness/tmp.js';
import { UpstreamRegistry } from './harness/upstream-registry.js';

// Generous, for slow CI disks; nothing here asserts how long anything takes.
const TIMEOUT_MS = 300_000;
/** Short, so a takeover after the kill comes within seconds. */
const LEASE_TIME = '5s';
const PULLS = 60;
/** A multi-layer image: one layer over the 5 MiB part size (multipart), the rest small. */
const LAYERS = [8 * MiB, 2 * MiB, 512 * KiB, 64 * KiB];

let s3: RgwGateway | undefined;
let redis: RedisServer | undefined;
let upstream: UpstreamRegistry | undefined;
let relay: SlowRelay | undefined;
let work: string;
let bucket: string;
let replicas: Pullthrough[] = [];

/**
 * A TCP relay to the registry that, while `bytesPerSecond` is set, paces the registry's answers:
 * the real registry, made slow (no local server plays a slow upstream).
 */
class SlowRelay {
  bytesPerSecond: number | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: { host: string; port: number }): Promise<SlowRelay> {
    const port = await freePort();
    const server = createServer();
    const relay = new SlowRelay(server, `http://${LOOPBACK}:${port}`);
    server.on('connection', (client) => relay.connect(client, target));
    await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
    return relay;
  }

  private connect(client: Socket, target: { host: string; port: number }): void {
    const registry = createConnection(target);
    for (const s of [client, registry]) {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    }
    // The rate is read per piece: a test slows the relay or lets it go mid-transfer.
    const rate = () => this.bytesPerSecond;
    async function* paced(source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        for (let at = 0; at < chunk.length; at += 64 * KiB) {
          const piece = chunk.subarray(at, at + 64 * KiB);
          const bytesPerSecond = rate();
          if (bytesPerSecond) await sleep((piece.length / bytesPerSecond) * 1000);
          yield piece;
        }
      }
    }
    // Either side going away (a replica killed) ends both.
    const end = () => {
      client.destroy();
      registry.destroy();
    };
    pipeline(client, registry).catch(end);
    pipeline(registry, paced, client).catch(end);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

beforeAll(async () => {
  s3 = await RgwGateway.start();
  bucket = await s3.createBucket();
  [redis, upstream, work] = await Promise.all([RedisServer.start(), UpstreamRegistry.create(), makeTempDir('cluster')]);
  relay = await SlowRelay.start({ host: LOOPBACK, port: upstream.port });
  replicas = await Promise.all([1, 2, 3].map(() => replica(bucket, { cluster: { redis: { url: redis!.url, leaseTime: LEASE_TIME } } })));
}, RGW_START_TIMEOUT_MS + TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled(replicas.map((r) => r.dispose()));
  await Promise.allSettled([relay?.close(), upstream?.dispose(), redis?.dispose(), s3?.stop(), work ? removeDir(work) : undefined]);
}, TIMEOUT_MS);

function replica(on: string, config: Record<string, unknown>): Promise<Pullthrough> {
  const storage = { driver: 's3', s3: { bucket: on, endpoint: s3!.endpoint, forcePathStyle: true, ...s3!.credentials(), partSize: '5MiB' } };
  return Pullthrough.create({ upstreams: [{ name: 'docker.io', url: relay!.url }], storage, config });
}

/** A new image in the upstream, never pulled before. */
async function coldImage(layerSizes = LAYERS): Promise<PushedImage> {
  const name = `img${randomUUID().slice(0, 8)}`;
  const local = await buildImage({ layoutDir: join(work, 'layout'), tag: name, layerSizes });
  return pushImage(local, { host: upstream!.host, repository: `e2e/${name}`, tag: '1.0' });
}

const blobsOf = (image: PushedImage) => [image.configDigest, ...image.layerDigests];
/** Spelt out, not taken from src/storage/paths.ts: the layout in the bucket is what is checked. */
const blobKey = (digest: string) => `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

/** The registry's access log from `offset` on: "GET /v2/… 200" per request it answered. */
async function upstreamRequests(offset: number): Promise<string[]> {
  const text = (await readFile(upstream!.logFile)).subarray(offset).toString('utf8');
  return [...text.matchAll(/"(GET|HEAD) (\S+) HTTP\/[\d.]+" (\d{3})/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}
const logOffset = async () => (await stat(upstream!.logFile)).size;

/** Upstream GETs answered 200 for each blob and for the manifest (by tag or digest). */
function upstreamGets(requests: string[], image: PushedImage): { blobs: number[]; manifest: number } {
  const gets = (path: string) => requests.filter((r) => r === `GET ${path} 200`).length;
  const base = `/v2/${image.repository}`;
  return {
    blobs: blobsOf(image).map((d) => gets(`${base}/blobs/${d}`)),
    manifest: gets(`${base}/manifests/${image.tag}`) + gets(`${base}/manifests/${image.manifestDigest}`),
  };
}

/** `count` concurrent skopeo pulls (each verifies every digest) spread over `over`; each's error or 'ok'. */
async function herd(image: PushedImage, over: Pullthrough[], count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const mirror = over[i % over.length]!;
      try {
        await skopeoCopy(`docker://${mirror.host}/${image.repository}:${image.tag}`, `oci:${join(work, `pull-${randomUUID()}`)}:${image.tag}`);
        return 'ok';
      } catch (err) {
        return `client ${i} via ${mirror.host}: ${(err as Error).message.slice(0, 400)}`;
      }
    }),
  );
}

/** The bucket's pending multipart uploads, as "<key> <id>". */
async function pending(): Promise<string[]> {
  const client = s3!.client();
  try {
    const found: string[] = [];
    for await (const u of pendingUploads(client, bucket)) found.push(`${u.Key} ${u.UploadId}`);
    return found;
  } finally {
    client.destroy();
  }
}

/** Every blob of the image stored, and no upload pending; gives up after 30 s and returns the keys. */
async function settled(digests: string[]): Promise<{ keys: string[]; uploads: string[] }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const keys = await s3!.allKeys(bucket);
    const uploads = await pending();
    if ((digests.every((d) => keys.includes(blobKey(d))) && uploads.length === 0) || Date.now() > deadline) return { keys, uploads };
    await sleep(200);
  }
}

async function metric(mirror: Pullthrough, line: RegExp): Promise<number> {
  const text = (await httpGet(`${mirror.url}/metrics`)).body.toString('utf8');
  return text
    .split('\n')
    .filter((l) => line.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function readiness(mirror: Pullthrough): Promise<{ status: string; checks: { name: string; ok: boolean; error?: string }[] }> {
  return JSON.parse((await httpGet(`${mirror.url}/readyz`)).body.toString('utf8'));
}

async function until(what: string, done: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('three replicas on one bucket with cluster.redis', () => {
  test(
    `${PULLS} concurrent cold pulls over 3 replicas: the upstream serves each blob and the manifest once; without Redis, up to once per replica`,
    async () => {
      const image = await coldImage();
      const offset = await logOffset();
      const outcomes = await herd(image, replicas, PULLS);
      expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
      const counts = upstreamGets(await upstreamRequests(offset), image);
      // Where a second GET would come from: a request that worked alone (Redis failed or timed out), a lease taken
      // over, or a fetch whose storage write failed (it passes its bytes through; a new client starts another).
      const sum = async (line: RegExp) => (await Promise.all(replicas.map((r) => metric(r, line)))).reduce((a, b) => a + b, 0);
      const [fallbacks, takeovers, storageErrors] = [
        await sum(/^pullthrough_cluster_fallbacks_total/),
        await sum(/^pullthrough_cluster_takeovers_total/),
        await sum(/^pullthrough_storage_errors_total/),
      ];

      // The same herd on three replicas that work alone (no cluster.redis), on a bucket of their own.
      const soloBucket = await s3!.createBucket();
      const solo = await Promise.all([1, 2, 3].map(() => replica(soloBucket, {})));
      const alone = await coldImage();
      const soloOffset = await logOffset();
      const soloOutcomes = await herd(alone, solo, PULLS).finally(() => Promise.allSettled(solo.map((r) => r.dispose())));
      const soloCounts = upstreamGets(await upstreamRequests(soloOffset), alone);
      process.stderr.write(
        `cluster herd: ${PULLS} pulls of ${blobsOf(image).length} blobs over 3 replicas; upstream GETs per blob ${counts.blobs.join(', ')}, per manifest ${counts.manifest}; fallbacks ${fallbacks}, takeovers ${takeovers}, storage errors ${storageErrors}` +
          ` (without cluster.redis: per blob ${soloCounts.blobs.join(', ')}, per manifest ${soloCounts.manifest}; ${soloOutcomes.filter((o) => o === 'ok').length} of ${PULLS} right)\n`,
      );

      expect(counts).toEqual({ blobs: blobsOf(image).map(() => 1), manifest: 1 });
      expect(soloOutcomes.filter((o) => o !== 'ok')).toEqual([]);
      for (const n of [...soloCounts.blobs, soloCounts.manifest]) expect(n).toBeLessThanOrEqual(3);
      // The replicas that waited say so.
      const coalesced = await Promise.all(replicas.map((r) => metric(r, /^pullthrough_cluster_coalesced_total\{kind="blob"\}/)));
      expect(coalesced.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
      const { keys, uploads } = await settled(blobsOf(image));
      for (const d of blobsOf(image)) expect(keys.filter((k) => k.includes(d.slice(7)))).toEqual([blobKey(d)]);
      expect(uploads).toEqual([]);
    },
    TIMEOUT_MS,
  );

  test(
    'kill -9 of the replica holding a blob lease mid-transfer: another takes over within the lease time, waiting clients get the right bytes, no upload is left',
    async () => {
      const image = await coldImage([48 * MiB]);
      const digest = image.layerDigests[0]!;
      const leaseKey = `pullthrough:lease:{blob:${digest}}`;
      const offset = await logOffset();
      relay!.bytesPerSecond = 8 * MiB; // about 6 s for the layer
      const get = (mirror: Pullthrough) => httpGet(`${mirror.url}/v2/${image.repository}/blobs/${digest}`, { timeoutMs: 120_000 });
      try {
        // The killed replica's own client: its connection is cut, so it can never end with whole bytes.
        const first = get(replicas[0]!).then(
          (res) => sha256Digest(res.body),
          () => 'cut',
        );
        await until('a lease holder', async () => (await redis!.command('GET', leaseKey)) !== '');
        const token = await redis!.command('GET', leaseKey);
        const holder = replicas.find((r) => r.pid === Number(token.split('/')[1]))!;
        expect(holder).toBe(replicas[0]);
        const survivors = replicas.filter((r) => r !== holder);
        const waiting = survivors.flatMap((r) => [get(r), get(r)]);
        await until('both survivors waiting', async () => {
          const waits = await Promise.all(survivors.map((r) => metric(r, /^pullthrough_cluster_lease_waits_total\{kind="blob"\}/)));
          return waits.every((n) => n >= 1);
        });
        // Mid-transfer: the holder's multipart upload has begun, the object is not there.
        await until('the holder uploading', async () => (await pending()).some((u) => u.startsWith(blobKey(digest))));
        expect(await s3!.allKeys(bucket)).not.toContain(blobKey(digest));

        process.kill(holder.pid!, 'SIGKILL');
        const killedAt = Date.now();
        await until('a takeover', async () => {
          const now = await redis!.command('GET', leaseKey);
          return now !== '' && now !== token;
        });
        const takeoverMs = Date.now() - killedAt;
        const takerPid = Number((await redis!.command('GET', leaseKey)).split('/')[1]);
        const taker = replicas.find((r) => r.pid === takerPid);
        const answers = await Promise.all(waiting);
        const finishedMs = Date.now() - killedAt;
        process.stderr.write(
          `takeover: lease taken ${takeoverMs} ms after the kill (leaseTime ${LEASE_TIME}); waiting clients done ${finishedMs} ms after it\n`,
        );
        expect(survivors).toContain(taker);
        expect(takeoverMs).toBeLessThan(5_000 + 2_000); // the lease time and a poll: the takeover's bound, not a speed claim
        for (const res of answers) {
          expect(res.status).toBe(200);
          expect(sha256Digest(res.body)).toBe(digest);
        }
        expect(await first).not.toBe(digest);
        expect(await Promise.all(survivors.map((r) => metric(r, /^pullthrough_cluster_takeovers_total\{kind="blob"\}/)))).toContainEqual(1);

        // One object, and the dead holder's upload aborted, not left pending.
        const { keys, uploads } = await settled([digest]);
        expect(keys.filter((k) => k.includes(digest.slice(7)))).toEqual([blobKey(digest)]);
        expect(uploads).toEqual([]);
        // Upstream GETs of [config, layer], exact: the config none (only the layer was asked for); the
        // layer two, the dead holder's cut transfer (logged 200 by the registry: its headers had gone
        // out, the holder was uploading) and the taker's. Never three: of the two survivors one takes
        // the lapsed lease (SET NX), the other goes on waiting and reads the taker's commit.
        expect(upstreamGets(await upstreamRequests(offset), image).blobs).toEqual([0, 2]);
      } finally {
        relay!.bytesPerSecond = undefined;
        await Promise.all(replicas.map((r) => r.start()));
      }
    },
    TIMEOUT_MS,
  );

  test(
    'Redis killed mid-run: pulls go on, /readyz says degraded with its error; Redis back: a new cold image is fetched once across replicas',
    async () => {
      const image = await coldImage();
      const pulls = herd(image, replicas, 9);
      await sleep(100);
      await redis!.stop();
      const outcomes = await pulls;
      const statuses = (await Promise.all(replicas.map((r) => readRequestLog(r.logFile))))
        .flat()
        .filter((r) => r.path.startsWith(`/v2/${image.repository}/`))
        .map((r) => r.status);
      const ready = await Promise.all(replicas.map(readiness));
      const redisCheck = ready.map((r) => r.checks.find((c) => c.name === 'cluster redis'));
      const fallbacks = await Promise.all(replicas.map((r) => metric(r, /^pullthrough_cluster_fallbacks_total/)));
      process.stderr.write(
        `redis down: ${outcomes.filter((o) => o === 'ok').length} of 9 pulls right; statuses ${JSON.stringify(countBy(statuses))}; ` +
          `fallbacks per replica ${fallbacks.join(', ')}; readyz ${ready.map((r) => r.status).join(', ')}; one /readyz: ${JSON.stringify(ready[0])}\n`,
      );
      expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(ready.map((r) => r.status)).toEqual(['degraded', 'degraded', 'degraded']);
      for (const check of redisCheck) expect(check?.error).toMatch(/ECONNREFUSED/);

      // Pulls while Redis stays down: each replica alone, every pull right.
      const meanwhile = await coldImage([MiB, 64 * KiB]);
      expect((await herd(meanwhile, replicas, 6)).filter((o) => o !== 'ok')).toEqual([]);

      await redis!.restart();
      await until('ready again', async () => (await Promise.all(replicas.map(readiness))).every((r) => r.status === 'ok'));
      const after = await coldImage();
      const offset = await logOffset();
      expect((await herd(after, replicas, 9)).filter((o) => o !== 'ok')).toEqual([]);
      expect(upstreamGets(await upstreamRequests(offset), after)).toEqual({ blobs: blobsOf(after).map(() => 1), manifest: 1 });
    },
    TIMEOUT_MS,
  );
});

function countBy(values: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

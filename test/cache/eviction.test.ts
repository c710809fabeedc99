import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImages } from '../../src/cache/image-graph.js';
import { purge } from '../../src/purge/purge.js';
import { parseDigest } from '../../src/oci/digest.js';
import { paths } from '../../src/storage/paths.js';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

const MiB = 1024 * 1024;

describe('size-limited eviction', () => {
  let m: MirrorUnderTest;
  let clock = Date.now();
  afterEach(async () => m.close());

  async function pullImage(name: string, via: MirrorUnderTest = m): Promise<void> {
    const manifest = await via.get(`/v2/${name}/manifests/1`);
    expect(manifest.status).toBe(200);
    const body = JSON.parse(manifest.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const digest of [body.config.digest, ...body.layers.map((l) => l.digest)]) {
      const blob = await via.get(`/v2/${name}/blobs/${digest}`);
      expect(blob.status).toBe(200);
    }
    await via.server.mirror.blobs.settled();
  }

  async function storedBlobBytes(): Promise<number> {
    let total = 0;
    for (const f of (await m.files()).filter((f) => f.startsWith('blobs/'))) {
      total += (await m.server.mirror.storage.stat(f))!.size;
    }
    return total;
  }

  test('a cache filled past maxSize returns under it, evicting least recently used images whole', async () => {
    m = await startMirror({ cache: { maxSize: '1MiB' }, now: () => clock });
    const layers = new Map<string, Buffer[]>();
    for (let i = 0; i < 6; i++) {
      const image = [randomBytes(150_000), randomBytes(100_000)];
      layers.set(`library/img${i}`, image);
      m.hub.addImage(`library/img${i}`, '1', { layers: image });
    }
    for (let i = 0; i < 6; i++) {
      clock += 60 * 60_000;
      await pullImage(`library/img${i}`);
    }
    const before = 6 * 250_000;
    await m.server.mirror.evictor!.idle();
    const after = await storedBlobBytes();
    expect(after).toBeLessThanOrEqual(MiB);
    expect(after).toBeLessThan(before);
    expect(m.server.mirror.usage!.totalBytes).toBe(after);

    // No cached manifest points at a missing blob.
    const storage = m.server.mirror.storage;
    for (const image of await readImages(storage)) {
      for (const digest of image.closure) expect(await storage.stat(paths.blob(parseDigest(digest)))).toBeDefined();
    }

    // The most recently used image is still whole: zero upstream requests (its tag is still fresh).
    m.hub.resetCounts();
    await pullImage('library/img5');
    expect(m.hub.requests).toEqual([]);

    // The least recently used one was evicted and pulls again correctly.
    await pullImage('library/img0');
    expect(m.hub.count({ kind: 'manifest', method: 'GET', status: 200 })).toBe(1);
    const again = await m.get(`/v2/library/img0/blobs/sha256:${sha256Hex(layers.get('library/img0')![0]!)}`);
    expect(again.body.equals(layers.get('library/img0')![0]!)).toBe(true);
  });

  test('the bound holds once pulls stop: in use is only a pull in progress, recency ignores the shared base', async () => {
    m = await startMirror({ cache: { maxSize: '1MiB' }, now: () => clock });
    const base = randomBytes(100_000);
    // Pulled in the order opposite to their names, so the listing order is not the LRU order.
    const names = ['library/img3', 'library/img2', 'library/img1', 'library/img0'];
    for (const name of names) m.hub.addImage(name, '1', { layers: [base, randomBytes(300_000), randomBytes(1000)] });
    for (const name of names) {
      clock += 1_000;
      // A pull in progress: the manifest, the config and two of the three layers.
      const manifest = JSON.parse((await m.get(`/v2/${name}/manifests/1`)).body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
      for (const d of [manifest.config.digest, manifest.layers[0]!.digest, manifest.layers[1]!.digest]) {
        expect((await m.get(`/v2/${name}/blobs/${d}`)).status).toBe(200);
      }
      await m.server.mirror.blobs.settled();
    }
    await m.server.mirror.evictor!.idle();
    // Every image is a pull in progress: nothing may go yet.
    expect(m.server.mirror.usage!.totalBytes).toBeGreaterThan(MiB);

    // No request and no new blob from now on: the timer alone brings the store back under the bound.
    clock += 10_000;
    await until(async () => m.server.mirror.usage!.totalBytes <= MiB);
    expect(await storedBlobBytes()).toBeLessThanOrEqual(MiB);

    // The least recently pulled images went (img3 first), though all share the newest-used base layer.
    const kept = (await readImages(m.server.mirror.storage)).flatMap((image) => image.links.map((l) => l.repo.name)).sort();
    expect(kept).toEqual(['library/img0', 'library/img1']);
  }, 20_000);

  test('maxAge evicts images not pulled for longer than it, on an unbounded cache too', async () => {
    m = await startMirror({ cache: { maxSize: 'none', maxAge: '1h' }, now: () => clock });
    m.hub.addImage('library/stale', '1', { layers: [randomBytes(1000)] });
    m.hub.addImage('library/fresh', '1', { layers: [randomBytes(1000)] });
    await pullImage('library/stale');
    clock += 2 * 3_600_000;
    await pullImage('library/fresh');
    const cachedNames = async () => (await readImages(m.server.mirror.storage)).flatMap((i) => i.links.map((l) => l.repo.name));
    await until(async () => !(await cachedNames()).includes('library/stale'));
    expect(await cachedNames()).toEqual(['library/fresh']);
    m.hub.resetCounts();
    await pullImage('library/fresh');
    expect(m.hub.requests).toEqual([]);
  }, 20_000);

  test('blobs another process removed (purge, gc) leave the index within minutes, so its total stays true', async () => {
    m = await startMirror({ cache: { maxSize: '100MiB' }, now: () => clock });
    m.hub.addImage('library/gone', '1', { layers: [randomBytes(50_000)] });
    await pullImage('library/gone');
    const usage = m.server.mirror.usage!;
    expect(usage.totalBytes).toBeGreaterThan(50_000);
    await purge(m.server.mirror.storage, [{ upstream: 'docker.io', name: 'library/gone', reference: '1' }], { dryRun: false, settleMs: 1_100 });
    clock += 10 * 60_000;
    await until(async () => usage.totalBytes === 0);
    expect(usage.count).toBe(0);
  }, 20_000);

  test('access times survive a restart', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pt-restart-'));
    const first = await startMirror({ root, cache: { maxSize: '100MiB' }, now: () => clock });
    first.hub.addImage('library/older', '1', { layers: [randomBytes(1000)] });
    first.hub.addImage('library/newer', '1', { layers: [randomBytes(1000)] });
    clock += 3_600_000;
    const olderAt = clock;
    await pullImage('library/older', first);
    clock += 3_600_000;
    await pullImage('library/newer', first);
    await first.server.close(100);
    await first.hub.close();
    // File times say nothing about use: make them all the same, so only the saved times can tell.
    const files = (await readdir(join(root, 'blobs'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    for (const f of files) await utimes(join(f.parentPath, f.name), new Date(2000, 0, 1), new Date(2000, 0, 1));

    m = await startMirror({ root, cache: { maxSize: '100MiB' }, now: () => clock });
    const usage = m.server.mirror.usage!;
    expect(usage.count).toBe(files.length);
    const [older] = await readImages(m.server.mirror.storage).then((images) => images.filter((i) => i.links.some((l) => l.repo.name === 'library/older')));
    expect(older!.closure.size).toBe(3);
    for (const digest of older!.closure) expect(usage.get(digest)!.lastAccess).toBe(Math.round(olderAt / 1000) * 1000);
    const newest = Math.max(...usage.all().map((b) => b.lastAccess));
    expect(newest).toBe(Math.round(clock / 1000) * 1000);
  });
});

/** Polls `done` until it holds; fails the test after 10 s (a bound on waiting, not a speed check). */
async function until(done: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await done()); waited += 50) {
    if (waited > 10_000) throw new Error('condition not reached in 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

import { createHash, randomBytes } from 'node:crypto';
import { readImages } from '../../src/cache/image-graph.js';
import { parseDigest } from '../../src/oci/digest.js';
import { paths } from '../../src/storage/paths.js';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

const MiB = 1024 * 1024;

describe('size-limited eviction', () => {
  let m: MirrorUnderTest;
  let clock = Date.now();
  afterEach(async () => m.close());

  async function pullImage(name: string): Promise<void> {
    const manifest = await m.get(`/v2/${name}/manifests/1`);
    expect(manifest.status).toBe(200);
    const body = JSON.parse(manifest.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    for (const digest of [body.config.digest, ...body.layers.map((l) => l.digest)]) {
      const blob = await m.get(`/v2/${name}/blobs/${digest}`);
      expect(blob.status).toBe(200);
    }
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

  test('access times survive a restart', async () => {
    m = await startMirror({ cache: { maxSize: '100MiB' }, now: () => clock });
    m.hub.addImage('library/kept', '1', { layers: [randomBytes(1000)] });
    await pullImage('library/kept');
    await m.server.mirror.close();
    const saved = await m.server.mirror.storage.get('_state/usage.json');
    const times = JSON.parse(saved!.toString()) as Record<string, number>;
    expect(Object.values(times).every((t) => t === Math.round(clock / 1000))).toBe(true);
  });
});

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

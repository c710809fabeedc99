import { randomBytes } from 'node:crypto';
import { rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { collectGarbage } from '../../src/cache/gc.js';
import { pullImage, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

describe('gc', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  const blobFiles = async () => (await m.files()).filter((f) => f.startsWith('blobs/'));

  test('removes exactly the blobs no cached manifest references', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    m.hub.addImage('library/kept', '1', { layers: [randomBytes(1000), randomBytes(2000)] });
    const orphan = m.hub.addImage('library/orphan', '1', { layers: [randomBytes(3000), randomBytes(4000)] });
    await pullImage(m, 'library/kept');
    // Blobs pulled by digest with no manifest cached: orphans.
    for (const digest of [orphan.config, ...orphan.layers]) expect((await m.get(`/v2/library/orphan/blobs/${digest}`)).status).toBe(200);
    const before = (await blobFiles()).length;
    const storage = m.server.mirror.storage;

    const dry = await collectGarbage(storage, { dryRun: true, graceMs: 0 });
    expect(dry.removed.map((b) => b.digest).sort()).toEqual([orphan.config, ...orphan.layers].sort());
    expect((await blobFiles()).length).toBe(before);

    const report = await collectGarbage(storage, { dryRun: false, graceMs: 0 });
    expect(report.removed).toHaveLength(3);
    expect(report.freedBytes).toBe(3000 + 4000 + report.removed.find((b) => b.digest === orphan.config)!.size);
    expect((await blobFiles()).length).toBe(before - 3);

    // The kept image is still whole.
    m.hub.resetCounts();
    await pullImage(m, 'library/kept');
    expect(m.hub.requests).toEqual([]);
  });

  test('reads manifests only, never a layer or a config', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const image = m.hub.addImage('library/big', '1', { layers: [randomBytes(100_000), randomBytes(100_000)] });
    await pullImage(m, 'library/big');
    const storage = m.server.mirror.storage;
    const read: string[] = [];
    const counting = { ...storage, get: async (key: string) => (read.push(key), storage.get(key)) };
    const report = await collectGarbage(counting, { dryRun: true, graceMs: 0 });
    expect(report.referenced).toBe(4);
    const blobReads = read.filter((k) => k.startsWith('blobs/')).map((k) => `sha256:${k.split('/').pop()}`);
    expect(blobReads).toEqual([image.digest]);
  });

  test('young unreferenced blobs are kept (grace), and manifests whose bytes are gone lose their links and tags', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const image = m.hub.addImage('library/gone', '1', { layers: [randomBytes(100)] });
    await pullImage(m, 'library/gone');
    await rm(join(m.root, 'blobs', 'sha256', image.digest.slice(7, 9), image.digest.slice(7)));
    const report = await collectGarbage(m.server.mirror.storage, { dryRun: false, graceMs: 3_600_000 });
    expect(report.danglingRemoved).toBe(2);
    expect(report.removed).toEqual([]);
    expect(report.keptYoung).toBe(2);
    expect((await m.files()).filter((f) => f.startsWith('repositories/'))).toEqual([]);
    // A later pull of the tag refetches cleanly.
    expect((await m.get('/v2/library/gone/manifests/1')).status).toBe(200);
  });

  test('a pull running concurrently with three gcs (no grace) succeeds and stays whole', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const image = m.hub.addImage('library/busy', '1', { layers: [randomBytes(500_000), randomBytes(500_000)] });
    for (const layer of image.layers) m.hub.fault({ kind: 'slow', digest: layer, chunkBytes: 50_000, delayMs: 5 });
    const pull = pullImage(m, 'library/busy');
    const gcs = Promise.all([1, 2, 3].map(() => collectGarbage(m.server.mirror.storage, { dryRun: false, graceMs: 0 })));
    await Promise.all([pull, gcs]);
    m.hub.resetCounts();
    await pullImage(m, 'library/busy');
    expect(m.hub.requests).toEqual([]);
    expect((await m.files()).filter((f) => f.startsWith('_state/gc/running'))).toEqual([]);
  });

  test('pulls that start to reference old unreferenced blobs during the sweep keep them (no grace)', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const names = ['library/a', 'library/b', 'library/c'];
    const images = names.map((name) => m.hub.addImage(name, '1', { layers: [randomBytes(200_000), randomBytes(1000)] }));
    const orphan = m.hub.addImage('library/orphan', '1', { layers: [randomBytes(3000)] });
    // Every blob pulled by digest alone, no manifest cached: old and unreferenced when gc marks.
    for (const [name, img] of [...names.map((n, i) => [n, images[i]!] as const), ['library/orphan', orphan] as const]) {
      for (const digest of [img.config, ...img.layers]) expect((await m.get(`/v2/${name}/blobs/${digest}`)).status).toBe(200);
    }
    await m.server.mirror.blobs.settled();
    const old = new Date(2000, 0, 1);
    for (const f of await blobFiles()) await utimes(join(m.root, f), old, old);

    // The pulls run, to their end, once gc has listed the blobs (the mark is over, the sweep begins).
    const storage = m.server.mirror.storage;
    let pulls: Promise<unknown> | undefined;
    const duringSweep = async <T>(prefix: string, listed: T): Promise<T> => {
      if (prefix.startsWith('blobs/')) await (pulls ??= Promise.all(names.map((n) => pullImage(m, n))));
      return listed;
    };
    const racing = {
      ...storage,
      list: async (prefix: string) => duringSweep(prefix, await storage.list(prefix)),
      listObjects: async (prefix: string) => duringSweep(prefix, await storage.listObjects(prefix)),
    };
    const report = await collectGarbage(racing, { dryRun: false, graceMs: 0 });
    expect(pulls).toBeDefined();
    expect(report.removed.map((b) => b.digest).sort()).toEqual([orphan.config, ...orphan.layers].sort());

    m.hub.resetCounts();
    for (const name of names) await pullImage(m, name);
    expect(m.hub.requests).toEqual([]);
  });
});

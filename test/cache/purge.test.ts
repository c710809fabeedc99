import { randomBytes } from 'node:crypto';
import { purge } from '../../src/purge/purge.js';
import { pullImage, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

describe('purge', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  const blobFiles = async () => (await m.files()).filter((f) => f.startsWith('blobs/'));

  test('removes one image and its own blobs; a shared base layer and the other image stay whole', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const base = randomBytes(2000);
    const gone = m.hub.addImage('library/gone', '1', { layers: [base, randomBytes(3000)] });
    m.hub.addImage('library/kept', '1', { layers: [base, randomBytes(4000)] });
    await pullImage(m, 'library/gone');
    await pullImage(m, 'library/kept');
    const before = await blobFiles();
    const storage = m.server.mirror.storage;

    const dry = await purge(storage, [{ upstream: 'docker.io', name: 'library/gone', reference: '1' }], { dryRun: true });
    const own = [gone.digest, gone.config, gone.layers[1]!].sort();
    expect(dry.sweep.removed.map((b) => b.digest).sort()).toEqual(own);
    expect(await blobFiles()).toEqual(before);

    const real = await purge(storage, [{ upstream: 'docker.io', name: 'library/gone', reference: '1' }], { dryRun: false, settleMs: 1_100 });
    expect(real.sweep.removed.map((b) => b.digest).sort()).toEqual(own);
    expect(real.unlinked.sort()).toEqual([`docker.io/library/gone:1`, `docker.io/library/gone@${gone.digest}`].sort());
    expect((await blobFiles()).length).toBe(before.length - 3);
    expect((await m.files()).filter((f) => f.includes('library/gone'))).toEqual([]);

    m.hub.resetCounts();
    await pullImage(m, 'library/kept');
    expect(m.hub.requests).toEqual([]);
    await expect(purge(storage, [{ upstream: 'docker.io', name: 'library/gone', reference: '1' }], { dryRun: true })).rejects.toThrow(/not cached/);
  });

  test('a tag another tag shares only loses the tag', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const image = m.hub.addImage('library/two', '1', { layers: [randomBytes(1000)] });
    m.hub.tag('library/two', 'stable', image.digest);
    await pullImage(m, 'library/two', '1');
    await pullImage(m, 'library/two', 'stable');
    const report = await purge(m.server.mirror.storage, [{ upstream: 'docker.io', name: 'library/two', reference: 'stable' }], {
      dryRun: false,
      settleMs: 1_100,
    });
    expect(report.unlinked).toEqual(['docker.io/library/two:stable']);
    expect(report.sweep.removed).toEqual([]);
    m.hub.resetCounts();
    await pullImage(m, 'library/two', '1');
    expect(m.hub.requests).toEqual([]);
  });
});

import { randomBytes } from 'node:crypto';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { download, expectNothingWrongStored, failed } from './fault-kit.js';

/**
 * Bodies that end early or carry the wrong bytes. (test/api/blobs.test.ts covers the plain cases:
 * one client, wrong bytes; three clients, a cut.) Here: joiners of every kind, manifests, and the
 * clean retry after each.
 */
describe('upstream bodies cut short or wrong', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  /** A leader, plain joiners, a Range joiner and a HEAD, all on one slow, faulty transfer. */
  async function crowd(url: string) {
    const leader = download(url);
    // The slow body keeps the fetch running while the others join it.
    await new Promise((r) => setTimeout(r, 30));
    return Promise.all([leader, download(url), download(url), download(url, { range: 'bytes=0-9' })]);
  }

  test.each([
    ['cut mid-blob', (digest: string) => ({ kind: 'cut' as const, digest, afterBytes: 400_000, times: 1 })],
    ['wrong bytes for the digest', (digest: string) => ({ kind: 'wrongBytes' as const, digest, times: 1 })],
  ])('%s: leader and every joiner fail, nothing is stored, the next request refetches and verifies', async (_name, fault) => {
    m = await startMirror();
    const layer = randomBytes(1_000_000);
    const image = m.hub.addImage('library/bad', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault(fault(digest));
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 64 * 1024, delayMs: 10, times: 1 });
    const url = `${m.url}/v2/library/bad/blobs/${digest}`;
    const results = await crowd(url);
    for (const r of results) {
      expect(failed(r)).toBe(true);
      // No client ever saw a clean end: a success status here means the body was cut off.
      if (r.status < 400) expect(r.error).toBeDefined();
    }
    expect(m.hub.count({ role: 'cdn' })).toBe(1);
    await expectNothingWrongStored(m, digest);

    m.hub.resetCounts();
    const retry = await download(url);
    expect(retry.status).toBe(200);
    expect(retry.bytes?.equals(layer)).toBe(true);
    expect(m.hub.count({ role: 'cdn', status: 200 })).toBe(1);
    const audit = await expectNothingWrongStored(m);
    expect(audit.files.filter((f) => f.startsWith('blobs/'))).toHaveLength(1);
  });

  test.each([
    ['cut', (digest: string) => ({ kind: 'cut' as const, digest, afterBytes: 50, times: 1 })],
    ['wrong bytes', (digest: string) => ({ kind: 'wrongBytes' as const, digest, times: 1 })],
  ])('manifest by tag and by digest, %s: 503 UNAVAILABLE, nothing stored, clean retry', async (_name, fault) => {
    m = await startMirror();
    const image = m.hub.addImage('library/man', '1');
    for (const ref of ['1', image.digest]) {
      m.hub.fault(fault(image.digest));
      const res = await m.get(`/v2/library/man/manifests/${ref}`);
      expect([ref, res.status, json(res.body).errors[0].code]).toEqual([ref, 503, 'UNAVAILABLE']);
      expect(await m.files()).toEqual([]);
    }
    const retry = await m.get('/v2/library/man/manifests/1');
    expect(retry.status).toBe(200);
    expect(retry.body.equals(image.manifest)).toBe(true);
    await expectNothingWrongStored(m);
  });

  test('a cached blob is served from storage while the upstream would send wrong bytes', async () => {
    m = await startMirror();
    const layer = randomBytes(100_000);
    const image = m.hub.addImage('library/ok', '1', { layers: [layer] });
    expect((await download(`${m.url}/v2/library/ok/blobs/${image.layers[0]}`)).status).toBe(200);
    m.hub.fault({ kind: 'wrongBytes', digest: image.layers[0]! });
    m.hub.resetCounts();
    expect((await download(`${m.url}/v2/library/ok/blobs/${image.layers[0]}`)).bytes?.equals(layer)).toBe(true);
    expect(m.hub.requests).toEqual([]);
  });
});

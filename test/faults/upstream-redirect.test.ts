import { randomBytes } from 'node:crypto';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { download, errorCode, expectNothingWrongStored, herd } from './fault-kit.js';

/** Redirects that never end: bounded hops, a clear 503, nothing stored, and a clean retry. */
describe('upstream redirect loops', () => {
  let m: MirrorUnderTest;
  beforeAll(async () => {
    m = await startMirror();
  });
  afterAll(async () => m.close());
  afterEach(() => {
    m.hub.clearFaults();
    m.hub.resetCounts();
  });

  test('the CDN redirects to itself: every joiner 503 after at most 5 hops; nothing stored; clean retry', async () => {
    const layer = randomBytes(40_000);
    const image = m.hub.addImage('library/loop', '1', { layers: [layer] });
    m.hub.fault({ kind: 'redirectLoop', match: { role: 'cdn' } });
    const url = `${m.url}/v2/library/loop/blobs/${image.layers[0]}`;
    const results = await herd(4, url);
    expect(results.map((r) => [r.status, errorCode(r)])).toEqual(Array(4).fill([503, 'UNAVAILABLE']));
    expect(JSON.parse(results[0]!.bytes!.toString()).errors[0].message).toMatch(/more than 5 redirects/);
    // One fetch for the four requests: the registry's 307, then five hops at the CDN.
    expect(m.hub.count({ role: 'cdn' })).toBe(5);
    await expectNothingWrongStored(m, image.layers[0]!);
    m.hub.clearFaults();
    expect((await download(url)).bytes?.equals(layer)).toBe(true);
  });

  test('registry and CDN redirect to each other: 503 after the hop limit', async () => {
    const image = m.hub.addImage('library/pingpong', '1', { layers: [randomBytes(10_000)] });
    const blobPath = `/v2/library/pingpong/blobs/${image.layers[0]}`;
    m.hub.fault({ kind: 'redirectLoop', match: { role: 'cdn' }, location: `${m.hub.url}${blobPath}` });
    const res = await download(`${m.url}${blobPath}`);
    expect([res.status, errorCode(res)]).toEqual([503, 'UNAVAILABLE']);
    expect(m.hub.count({ role: 'cdn' }) + m.hub.count({ kind: 'blob', status: 307 })).toBeLessThanOrEqual(6);
    await expectNothingWrongStored(m, image.layers[0]!);
  });

  test('a manifest that redirects to itself: 503, nothing stored; HEAD too', async () => {
    const image = m.hub.addImage('library/manloop', '1');
    m.hub.fault({ kind: 'redirectLoop', match: { kind: 'manifest' } });
    const res = await m.get('/v2/library/manloop/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
    expect((await download(`${m.url}/v2/library/manloop/manifests/1`, {}, 'HEAD')).status).toBe(503);
    expect(m.hub.count({ kind: 'manifest', status: 307 })).toBeLessThanOrEqual(12);
    await expectNothingWrongStored(m, image.digest);
    m.hub.clearFaults();
    expect((await m.get('/v2/library/manloop/manifests/1')).body.equals(image.manifest)).toBe(true);
  });
});

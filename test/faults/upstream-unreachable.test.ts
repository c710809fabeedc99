import { randomBytes } from 'node:crypto';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { download, errorCode, expectNothingWrongStored, failed, herd, SHORT_TIMEOUTS } from './fault-kit.js';

/** An upstream that refuses connections or never answers: cached content is served, the rest fails fast and cleanly. */
describe('upstream down or hanging', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('connection refused: cached tag, digest and blobs still served; uncached requests 503 at once; retried after restart', async () => {
    m = await startMirror({ upstream: SHORT_TIMEOUTS });
    const layer = randomBytes(200_000);
    const cached = m.hub.addImage('library/app', '1', { layers: [layer] });
    const cold = m.hub.addImage('library/cold', '1', { layers: [randomBytes(100_000)] });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    expect((await m.get(`/v2/library/app/blobs/${cached.layers[0]}`)).status).toBe(200);
    await m.hub.stop();
    m.hub.resetCounts();

    expect((await m.get('/v2/library/app/manifests/1')).body.equals(cached.manifest)).toBe(true);
    expect((await m.get(`/v2/library/app/manifests/${cached.digest}`)).status).toBe(200);
    expect((await download(`${m.url}/v2/library/app/blobs/${cached.layers[0]}`)).bytes?.equals(layer)).toBe(true);

    const uncached = [
      `/v2/library/cold/manifests/1`,
      `/v2/library/cold/manifests/${cold.digest}`,
      `/v2/library/cold/blobs/${cold.layers[0]}`,
      `/v2/library/cold/tags/list`,
    ];
    for (const path of uncached) {
      const res = await m.get(path);
      expect([path, res.status, json(res.body).errors[0].code]).toEqual([path, 503, 'UNAVAILABLE']);
      expect(json(res.body).errors[0].message).toMatch(/unreachable .*ECONNREFUSED/);
    }
    const head = await download(`${m.url}/v2/library/cold/blobs/${cold.layers[0]}`, {}, 'HEAD');
    expect(head.status).toBe(503);
    // Concurrent requests for the missing blob: every one gets the error.
    const joiners = await herd(5, `${m.url}/v2/library/cold/blobs/${cold.layers[0]}`);
    expect(joiners.map((d) => [d.status, errorCode(d)])).toEqual(Array(5).fill([503, 'UNAVAILABLE']));
    await expectNothingWrongStored(m, cold.layers[0]!, cold.digest);

    await m.hub.restart();
    expect((await m.get('/v2/library/cold/manifests/1')).status).toBe(200);
    expect((await download(`${m.url}/v2/library/cold/blobs/${cold.layers[0]}`)).status).toBe(200);
    const audit = await expectNothingWrongStored(m);
    expect(audit.files).toContain(`blobs/sha256/${cold.layers[0]!.slice(7, 9)}/${cold.layers[0]!.slice(7)}`);
  });

  test('no response headers (manifest): every joiner gets 503 after the headers timeout, one upstream request, then a clean retry', async () => {
    m = await startMirror({ upstream: SHORT_TIMEOUTS });
    const image = m.hub.addImage('library/hang', '1');
    m.hub.fault({ kind: 'hang', match: { kind: 'manifest', method: 'GET' }, phase: 'headers', times: 1 });
    const results = await herd(5, `${m.url}/v2/library/hang/manifests/1`);
    expect(results.map((d) => [d.status, errorCode(d)])).toEqual(Array(5).fill([503, 'UNAVAILABLE']));
    expect(JSON.parse(results[0]!.bytes!.toString()).errors[0].message).toMatch(/unreachable .*Headers Timeout/i);
    // One GET got past authentication and hung: the five requests were coalesced onto it.
    expect(m.hub.count({ kind: 'manifest', method: 'GET', status: 0 })).toBe(1);
    await expectNothingWrongStored(m, image.digest);
    expect(await m.files()).toEqual([]);

    const retry = await m.get('/v2/library/hang/manifests/1');
    expect(retry.status).toBe(200);
    expect(retry.body.equals(image.manifest)).toBe(true);
  });

  test('no response headers (blob at the CDN): joiners all 503, one CDN request, nothing stored, clean retry', async () => {
    m = await startMirror({ upstream: SHORT_TIMEOUTS });
    const layer = randomBytes(300_000);
    const image = m.hub.addImage('library/hang', '1', { layers: [layer] });
    m.hub.fault({ kind: 'hang', match: { role: 'cdn' }, phase: 'headers', times: 1 });
    const url = `${m.url}/v2/library/hang/blobs/${image.layers[0]}`;
    const results = await Promise.all([...Array.from({ length: 4 }, () => download(url)), download(url, { range: 'bytes=0-99' })]);
    expect(results.map((d) => [d.status, errorCode(d)])).toEqual(Array(5).fill([503, 'UNAVAILABLE']));
    expect(m.hub.count({ role: 'cdn' })).toBe(1);
    await expectNothingWrongStored(m, image.layers[0]!);

    const retry = await download(url);
    expect(retry.bytes?.equals(layer)).toBe(true);
    await expectNothingWrongStored(m);
  });

  test('headers, then no body (blob): every client is cut off after the idle-body timeout; nothing stored; clean retry', async () => {
    m = await startMirror({ upstream: SHORT_TIMEOUTS });
    const layer = randomBytes(300_000);
    const image = m.hub.addImage('library/stall', '1', { layers: [layer] });
    m.hub.fault({ kind: 'hang', match: { role: 'cdn' }, phase: 'body', times: 1 });
    const url = `${m.url}/v2/library/stall/blobs/${image.layers[0]}`;
    const results = await Promise.all([download(url), download(url), download(url, { range: 'bytes=10-19' })]);
    for (const r of results) {
      expect(failed(r)).toBe(true);
      // Never a clean end on missing bytes: a 200 here must have been cut short.
      if (r.status === 200 || r.status === 206) expect(r.error).toBeDefined();
    }
    expect(m.hub.count({ role: 'cdn' })).toBe(1);
    await expectNothingWrongStored(m, image.layers[0]!);
    expect((await download(url)).bytes?.equals(layer)).toBe(true);
  });

  test('headers, then no body (manifest): 503, nothing stored, clean retry', async () => {
    m = await startMirror({ upstream: SHORT_TIMEOUTS });
    const image = m.hub.addImage('library/stall', '1');
    m.hub.fault({ kind: 'hang', match: { kind: 'manifest', method: 'GET' }, phase: 'body', times: 1 });
    const res = await m.get('/v2/library/stall/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
    expect(await m.files()).toEqual([]);
    expect((await m.get('/v2/library/stall/manifests/1')).body.equals(image.manifest)).toBe(true);
  });

  test('an upstream that hangs on everything: a stale tag is served after the headers timeout; cached blobs with no upstream request', async () => {
    m = await startMirror({ upstream: { ...SHORT_TIMEOUTS, tagTTL: 0 } });
    const layer = randomBytes(100_000);
    const image = m.hub.addImage('library/app', '1', { layers: [layer] });
    await m.get('/v2/library/app/manifests/1');
    await download(`${m.url}/v2/library/app/blobs/${image.layers[0]}`);
    m.hub.fault({ kind: 'hang', match: {}, phase: 'headers' });
    m.hub.resetCounts();
    const stale = await m.get('/v2/library/app/manifests/1');
    expect(stale.status).toBe(200);
    expect(stale.body.equals(image.manifest)).toBe(true);
    expect((await download(`${m.url}/v2/library/app/blobs/${image.layers[0]}`)).bytes?.equals(layer)).toBe(true);
    expect(m.hub.count({ kind: 'blob' }) + m.hub.count({ role: 'cdn' })).toBe(0);
  });
});

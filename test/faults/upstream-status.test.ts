import { randomBytes } from 'node:crypto';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { download, errorCode, expectNothingWrongStored, herd } from './fault-kit.js';

/**
 * Error statuses from the upstream. (test/api/manifests.test.ts covers 5xx/429 on a stale tag's
 * revalidation and the Hub's own 429 on a manifest pull.) Here: every kind of request, registry and
 * CDN, joiners, Retry-After passed on, and the clean retry.
 */
describe('upstream error statuses', () => {
  let m: MirrorUnderTest;
  // A mirror per test: a 429's Retry-After holds the upstream down for the rest of the mirror's life.
  beforeEach(async () => {
    m = await startMirror({ hub: { rateLimit: false } });
  });
  afterEach(async () => m.close());

  test.each([500, 502, 503, 504])(
    "%i on an uncached manifest: 503 UNAVAILABLE naming the status and the upstream's message, nothing stored, then a clean retry",
    async (status) => {
      const repo = `library/status-${status}`;
      const image = m.hub.addImage(repo, '1');
      m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status });
      const results = await herd(3, `${m.url}/v2/${repo}/manifests/1`);
      for (const r of results) {
        expect([r.status, errorCode(r)]).toEqual([503, 'UNAVAILABLE']);
        // The fake's error JSON says `{"code":"…","message":"fault 500"}`: its words reach the client.
        expect(JSON.parse(r.bytes!.toString()).errors[0].message).toContain(`answered ${status}`);
        expect(JSON.parse(r.bytes!.toString()).errors[0].message).toContain(`: fault ${status}`);
      }
      await expectNothingWrongStored(m, image.digest);
      m.hub.clearFaults();
      expect((await m.get(`/v2/${repo}/manifests/1`)).body.equals(image.manifest)).toBe(true);
    },
  );

  test.each([
    [403, 'DENIED'],
    [401, 'UNAUTHORIZED'],
  ] as const)("%i from the registry on an uncached manifest: the upstream's own %s and message, nothing stored, then a clean retry", async (status, code) => {
    const repo = `library/refused-${status}`;
    const image = m.hub.addImage(repo, '1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status, times: status === 401 ? 2 : undefined });
    const r = await download(`${m.url}/v2/${repo}/manifests/1`);
    expect([r.status, errorCode(r)]).toEqual([status, code]);
    expect(JSON.parse(r.bytes!.toString()).errors[0].message).toMatch(new RegExp(`answered ${status} ${code} \\(manifest ${repo}:1\\): fault ${status}`));
    await expectNothingWrongStored(m, image.digest);
    m.hub.clearFaults();
    expect((await m.get(`/v2/${repo}/manifests/1`)).body.equals(image.manifest)).toBe(true);
  });

  test("an upstream 4xx whose code the client cannot act on (400 with its own code) is 503 UNAVAILABLE with the upstream's words", async () => {
    m.hub.addImage('library/odd', '1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 400 });
    const r = await download(`${m.url}/v2/library/odd/manifests/1`);
    expect([r.status, errorCode(r)]).toEqual([503, 'UNAVAILABLE']);
    expect(JSON.parse(r.bytes!.toString()).errors[0].message).toContain('answered 400 UNKNOWN (manifest library/odd:1): fault 400');
  });

  test.each(['registry', 'cdn'] as const)('500 for a blob from the %s: every joiner 503, nothing stored, clean retry', async (role) => {
    const layer = randomBytes(50_000);
    const image = m.hub.addImage(`library/blob-500-${role}`, '1', { layers: [layer] });
    m.hub.fault({ kind: 'status', match: role === 'cdn' ? { role } : { kind: 'blob' }, status: 500 });
    const url = `${m.url}/v2/library/blob-500-${role}/blobs/${image.layers[0]}`;
    const results = await herd(4, url);
    expect(results.map((r) => [r.status, errorCode(r)])).toEqual(Array(4).fill([503, 'UNAVAILABLE']));
    await expectNothingWrongStored(m, image.layers[0]!);
    m.hub.clearFaults();
    expect((await download(url)).bytes?.equals(layer)).toBe(true);
  });

  test.each([
    ['manifest GET', 'manifests/1', 'GET', { kind: 'manifest' }],
    ['manifest HEAD', 'manifests/1', 'HEAD', { kind: 'manifest' }],
    ['blob GET (registry)', 'blobs/LAYER', 'GET', { kind: 'blob' }],
    ['blob GET (CDN)', 'blobs/LAYER', 'GET', { role: 'cdn' }],
    ['blob HEAD', 'blobs/LAYER', 'HEAD', { kind: 'blob' }],
    ['tags list', 'tags/list', 'GET', { kind: 'tags' }],
  ] as const)('429 with Retry-After on %s and nothing cached: 429 TOOMANYREQUESTS, Retry-After passed on', async (_name, path, method, match) => {
    const repo = `library/limited-${randomBytes(4).toString('hex')}`;
    const image = m.hub.addImage(repo, '1');
    m.hub.fault({ kind: 'status', match, status: 429, headers: { 'Retry-After': '42' } });
    const res = await download(`${m.url}/v2/${repo}/${path.replace('LAYER', image.layers[0]!)}`, {}, method);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('42');
    if (method === 'GET') expect(errorCode(res)).toBe('TOOMANYREQUESTS');
    await expectNothingWrongStored(m, image.layers[0]!, image.digest);
  });

  test('429 without Retry-After: the client is told to wait 60 s rather than retry at once', async () => {
    m.hub.addImage('library/limited-bare', '1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 429 });
    const res = await m.get('/v2/library/limited-bare/manifests/1');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('60');
  });

  test.each([
    ['ratelimit-remaining: 0;w=21600', { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' }, '21600'],
    ['ratelimit-reset: 1234', { 'ratelimit-remaining': '0;w=21600', 'ratelimit-reset': '1234' }, '1234'],
  ])('429 without Retry-After but with %s: Retry-After says when the window ends', async (_name, headers, expected) => {
    m.hub.addImage('library/limited-window', '1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 429, headers });
    const res = await m.get('/v2/library/limited-window/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([429, 'TOOMANYREQUESTS']);
    expect(res.headers['retry-after']).toBe(expected);
  });

  test('while the upstream answers 500 and 429, cached digests and blobs are served with no upstream request', async () => {
    const layer = randomBytes(80_000);
    const image = m.hub.addImage('library/cached', '1', { layers: [layer] });
    await m.get(`/v2/library/cached/manifests/${image.digest}`);
    await download(`${m.url}/v2/library/cached/blobs/${image.layers[0]}`);
    for (const status of [500, 429]) {
      m.hub.clearFaults();
      m.hub.fault({ kind: 'status', match: {}, status });
      m.hub.resetCounts();
      expect((await m.get(`/v2/library/cached/manifests/${image.digest}`)).body.equals(image.manifest)).toBe(true);
      expect((await download(`${m.url}/v2/library/cached/blobs/${image.layers[0]}`)).bytes?.equals(layer)).toBe(true);
      expect(m.hub.requests).toEqual([]);
    }
    expect(json((await m.get('/v2/library/uncached/manifests/1')).body).errors[0].code).toBe('TOOMANYREQUESTS');
  });
});

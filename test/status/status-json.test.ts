// GET /status.json after real pulls through the mirror (fake Docker Hub): every figure the status
// page shows is checked against /metrics, storage and /readyz, which are the sources it claims.
import { randomBytes } from 'node:crypto';
import { metric, parseMetrics, type Sample } from '../observability/metrics-text.js';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import type { StatusReport } from '../../src/status/report.js';

async function scrape(m: MirrorUnderTest): Promise<Sample[]> {
  return parseMetrics((await m.get('/metrics')).body.toString('utf8'));
}

async function status(m: MirrorUnderTest, headers: Record<string, string> = {}): Promise<StatusReport> {
  const res = await m.get('/status.json', headers);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(res.body.toString('utf8')) as StatusReport;
}

/** Requests are counted when their response finished, a moment after the client saw it: wait for n. */
async function settled(m: MirrorUnderTest, requests: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = await scrape(m);
    if (metric(s, 'pullthrough_cache_requests_total') >= requests) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pull(m: MirrorUnderTest, repository: string, tag: string, image: { config: string; layers: string[] }): Promise<void> {
  expect((await m.get(`/v2/${repository}/manifests/${tag}`)).status).toBe(200);
  for (const digest of [image.config, ...image.layers]) expect((await m.get(`/v2/${repository}/blobs/${digest}`)).status).toBe(200);
}

describe('GET /status.json', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('after a cold and a warm pull: hit ratio, bytes, pulls saved, rate limit and storage agree with /metrics', async () => {
    m = await startMirror({ cache: { maxSize: '1GiB' } });
    const app = m.hub.addImage('library/app', '1', { layers: [randomBytes(300_000), randomBytes(200_000)] });
    const tool = m.hub.addImage('library/tool', 'v2', { layers: [randomBytes(50_000)] });
    await pull(m, 'library/app', '1', app); // cold: 4 misses
    await pull(m, 'library/tool', 'v2', tool); // cold: 3 misses
    await pull(m, 'library/app', '1', app); // warm: 4 hits
    await settled(m, 11);

    const [s, report] = [await scrape(m), await status(m)];
    const cached = ['hit', 'stale', 'revalidated', 'coalesced'];
    const fromCache = cached.reduce((n, result) => n + metric(s, 'pullthrough_cache_requests_total', { result }), 0);
    const all = metric(s, 'pullthrough_cache_requests_total');
    expect([fromCache, all]).toEqual([4, 11]);
    expect(report.traffic.hitRatio).toBeCloseTo(fromCache / all, 10);
    expect(report.traffic.requests.manifest).toEqual({ miss: 2, hit: 1 });
    expect(report.traffic.requests.blob).toEqual({ miss: 5, hit: 3 });
    expect(report.traffic.servedBytes).toEqual({
      cache: metric(s, 'pullthrough_served_bytes_total', { source: 'cache' }),
      upstream: metric(s, 'pullthrough_served_bytes_total', { source: 'upstream' }),
    });
    expect(report.traffic.servedBytes.cache).toBeGreaterThan(500_000);
    expect(report.traffic.upstreamBytes).toBe(metric(s, 'pullthrough_upstream_bytes_total'));

    const [hub] = report.upstreams;
    expect(report.upstreams).toHaveLength(1);
    expect(hub).toMatchObject({ name: 'docker.io', url: m.hub.url, default: true, reachable: true });
    expect(hub!.rateLimit).toMatchObject({
      limit: metric(s, 'pullthrough_upstream_ratelimit_limit'),
      remaining: metric(s, 'pullthrough_upstream_ratelimit_remaining'),
      windowSeconds: metric(s, 'pullthrough_upstream_ratelimit_window_seconds'),
    });
    expect(hub!.rateLimit!.remaining).toBe(m.hub.rateLimitRemaining);
    // The warm manifest GET was the one pull saved; the two cold ones were pulls made.
    expect(hub!.lastHour.pullsSaved).toBe(1);
    expect(hub!.lastHour.pullsSaved).toBe(metric(s, 'pullthrough_upstream_pulls_saved_total', { upstream: 'docker.io' }));
    expect(hub!.lastHour.pullsMade).toBe(metric(s, 'pullthrough_upstream_requests_total', { kind: 'manifest', method: 'GET', status: '200' }));
    expect(hub!.lastHour.pullsMade).toBe(2);

    expect(report.storage.usedBytes).toBe(metric(s, 'pullthrough_storage_bytes'));
    expect(report.storage.objects).toBe(metric(s, 'pullthrough_storage_objects'));
    expect(report.storage).toMatchObject({ maxBytes: 2 ** 30, target: `filesystem ${m.root}` });
    expect(report.storage.freeBytes).toBeGreaterThan(0);
    expect(report.readiness.status).toBe('ok');
    expect(report.readiness.checks.map((c) => c.name)).toEqual(['storage', 'upstream docker.io']);

    // What is cached: each repository with its tags, manifest count and the bytes its manifest reaches.
    const appBytes = 300_000 + 200_000;
    expect(report.cache.repositories).toBe(2);
    expect(report.cache.listed.map((r) => [r.upstream, r.name, r.tags, r.manifests])).toEqual([
      ['docker.io', 'library/app', ['1'], 1],
      ['docker.io', 'library/tool', ['v2'], 1],
    ]);
    const listedApp = report.cache.listed[0]!;
    expect(listedApp.bytes).toBeGreaterThan(appBytes);
    expect(listedApp.bytes).toBeLessThan(appBytes + 10_000); // + config and manifest
    expect(Date.parse(listedApp.lastPulled!)).toBeGreaterThanOrEqual(Date.parse(report.cache.listed[1]!.lastPulled!));
    expect(report.cache.upstreams['docker.io']!.repositories).toBe(2);
    expect(report.cache.upstreams['docker.io']!.bytes).toBe(report.cache.listed.reduce((n, r) => n + r.bytes, 0));
    // Every stored object belongs to one of the two images here, so the repositories add up to the storage.
    expect(report.cache.upstreams['docker.io']!.bytes).toBe(report.storage.usedBytes);
    expect(report.errors).toEqual([]);
  });

  test('recent errors are deduplicated as the log lines are; an unreachable upstream shows its error', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    // library/missing is no repository on the hub (its 401 insufficient_scope: NAME_UNKNOWN); library/other is one without tag 1.
    m.hub.addImage('library/other', '2');
    for (let i = 0; i < 5; i++) expect((await m.get('/v2/library/missing/manifests/1')).status).toBe(404);
    expect((await m.get('/v2/library/other/manifests/1')).status).toBe(404);
    await m.hub.close(); // the upstream goes away
    const report = await status(m);
    expect(report.errors.map((e) => [e.count, e.fields.path, e.fields.status, e.fields.error])).toEqual([
      [1, '/v2/library/other/manifests/1', '404', 'MANIFEST_UNKNOWN'],
      [5, '/v2/library/missing/manifests/1', '404', 'NAME_UNKNOWN'],
    ]);
    expect(report.readiness.status).toBe('degraded');
    expect(report.upstreams[0]).toMatchObject({ reachable: false, error: expect.stringMatching(/./) });
    expect(report.storage.maxBytes).toBeNull();
  });

  test('GET / is the page: no external assets, a CSP that allows none, reading status.json', async () => {
    m = await startMirror();
    const res = await m.get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const html = res.body.toString('utf8');
    expect(html).toContain("fetch('status.json'");
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[^']+'; script-src 'sha256-[^']+'; connect-src 'self'/);
  });

  test('with client auth, / and /status.json need credentials, as /metrics does; probes stay open', async () => {
    const token = 'status-token-0123456789abcdef';
    m = await startMirror({ config: { auth: { tokens: [token] } } });
    for (const path of ['/', '/status.json', '/metrics']) {
      const res = await m.get(path);
      expect([path, res.status, JSON.parse(res.body.toString('utf8')).errors[0].code]).toEqual([path, 401, 'UNAUTHORIZED']);
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
      expect((await m.get(path, { authorization: `Bearer ${token}` })).status).toBe(200);
    }
    expect((await m.get('/readyz')).status).toBe(200);
  });
});

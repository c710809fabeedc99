import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { metric, parseMetrics, type Sample } from '../observability/metrics-text.js';
import { startMirror, type MirrorUnderTest } from './mirror-harness.js';

async function scrape(m: MirrorUnderTest, url = m.url): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

/**
 * Scrapes until `requests` client requests (other than scrapes) have been counted: a request is
 * counted when its response has finished, which the client may see a moment before the server.
 */
async function scrapeAfter(m: MirrorUnderTest, requests: number): Promise<Sample[]> {
  // Blobs are committed (and counted) after their last byte went out.
  await m.server.mirror.blobs.settled();
  for (let i = 0; ; i++) {
    const s = await scrape(m);
    const counted = s.filter((x) => x.name === 'pullthrough_http_requests_total' && x.labels.route !== 'metrics').reduce((n, x) => n + x.value, 0);
    if (counted >= requests || i === 100) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What `docker pull` does: the manifest by tag, then config and layers by digest. */
async function pull(m: MirrorUnderTest, repository: string, tag: string, image: { config: string; layers: string[] }): Promise<void> {
  expect((await m.get(`/v2/${repository}/manifests/${tag}`)).status).toBe(200);
  for (const digest of [image.config, ...image.layers]) expect((await m.get(`/v2/${repository}/blobs/${digest}`)).status).toBe(200);
}

describe('GET /metrics', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('a cold pull counts misses, upstream requests, rate limit and stored bytes; a warm pull counts hits only', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const layers = [randomBytes(300_000), randomBytes(200_000)];
    const image = m.hub.addImage('library/app', '1', { layers });
    const blobBytes = layers.reduce((n, l) => n + l.length, 0);

    await pull(m, 'library/app', '1', image);
    let s = await scrapeAfter(m, 4);
    expect(metric(s, 'pullthrough_cache_requests_total', { kind: 'manifest', result: 'miss' })).toBe(1);
    expect(metric(s, 'pullthrough_cache_requests_total', { kind: 'blob', result: 'miss' })).toBe(3);
    expect(metric(s, 'pullthrough_cache_requests_total', { result: 'hit' })).toBe(0);
    expect(metric(s, 'pullthrough_upstream_requests_total', { upstream: 'docker.io', kind: 'manifest', method: 'GET', status: '200' })).toBe(1);
    // Each blob GET is a 307 from the registry and a 200 from the CDN.
    expect(metric(s, 'pullthrough_upstream_requests_total', { kind: 'blob', method: 'GET', status: '307' })).toBe(3);
    expect(metric(s, 'pullthrough_upstream_requests_total', { kind: 'blob', method: 'GET', status: '200' })).toBe(3);
    expect(metric(s, 'pullthrough_upstream_requests_total', { kind: 'token', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metric(s, 'pullthrough_upstream_ratelimit_limit', { upstream: 'docker.io' })).toBe(100);
    expect(metric(s, 'pullthrough_upstream_ratelimit_remaining', { upstream: 'docker.io' })).toBe(m.hub.rateLimitRemaining);
    expect(metric(s, 'pullthrough_upstream_ratelimit_window_seconds', { upstream: 'docker.io' })).toBe(21600);
    expect(metric(s, 'pullthrough_upstream_bytes_total', { kind: 'blob' })).toBeGreaterThanOrEqual(blobBytes);
    expect(metric(s, 'pullthrough_served_bytes_total', { kind: 'blob', source: 'upstream' })).toBeGreaterThanOrEqual(blobBytes);
    expect(metric(s, 'pullthrough_upstream_fetches_in_flight')).toBe(0);
    // manifest + config + 2 layers, kept by the storage base as they commit
    expect(metric(s, 'pullthrough_storage_objects')).toBe(4);
    expect(metric(s, 'pullthrough_storage_bytes')).toBeGreaterThan(blobBytes);
    expect(metric(s, 'pullthrough_http_requests_total', { route: 'blob', method: 'GET', status: '200' })).toBe(3);

    m.hub.resetCounts();
    await pull(m, 'library/app', '1', image);
    s = await scrapeAfter(m, 8);
    expect(m.hub.requests).toEqual([]);
    expect(metric(s, 'pullthrough_cache_requests_total', { kind: 'manifest', result: 'hit' })).toBe(1);
    expect(metric(s, 'pullthrough_cache_requests_total', { kind: 'blob', result: 'hit' })).toBe(3);
    expect(metric(s, 'pullthrough_served_bytes_total', { kind: 'blob', source: 'cache' })).toBeGreaterThanOrEqual(blobBytes);
    expect(metric(s, 'pullthrough_storage_objects')).toBe(4);
    expect(metric(s, 'pullthrough_http_request_duration_seconds_count', { route: 'blob' })).toBe(6);
    expect(metric(s, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metric(s, 'pullthrough_build_info')).toBe(1);
  }, 20_000);

  test('storage gauges start from what is already stored (walk at start), and 429s are counted', async () => {
    m = await startMirror({ cache: { maxSize: 'none' } });
    const image = m.hub.addImage('library/seed', '1', { layers: [randomBytes(10_000)] });
    await pull(m, 'library/seed', '1', image);
    const root = m.root;
    await m.server.close(100);
    // A second mirror on the same root: its gauges come from the start-up walk.
    const again = await startMirror({ cache: { maxSize: 'none' }, config: { storage: { driver: 'filesystem', filesystem: { root } } } });
    try {
      let objects = 0;
      for (let i = 0; i < 50 && objects === 0; i++) {
        objects = metric(await scrape(again), 'pullthrough_storage_objects');
        if (objects === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(objects).toBe(3);

      again.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 429 });
      again.hub.addImage('library/limited', '1');
      expect((await again.get('/v2/library/limited/manifests/1')).status).toBe(429);
      const s = await scrapeAfter(again, 1);
      expect(metric(s, 'pullthrough_upstream_rate_limited_total', { upstream: 'docker.io' })).toBe(1);
      expect(metric(s, 'pullthrough_http_requests_total', { route: 'manifest', status: '429' })).toBe(1);
    } finally {
      await again.close();
      await m.hub.close();
      await rm(root, { recursive: true, force: true });
    }
    m = { close: async () => undefined } as MirrorUnderTest;
  }, 20_000);

  test('with the usage index (bounded cache) the gauges start from its count', async () => {
    m = await startMirror({ cache: { maxSize: '1GiB' } });
    const image = m.hub.addImage('library/bounded', '1', { layers: [randomBytes(10_000)] });
    await pull(m, 'library/bounded', '1', image);
    await m.server.mirror.blobs.settled();
    expect(metric(await scrape(m), 'pullthrough_storage_objects')).toBe(3);
  });

  test('debugListen serves /metrics, /healthz and /readyz on a second address, and nothing else', async () => {
    m = await startMirror({ config: { debugListen: '127.0.0.1:0' } });
    const debugUrl = m.server.debugUrl!;
    expect(debugUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(metric(await scrape(m, debugUrl), 'pullthrough_build_info')).toBe(1);
    expect((await fetch(`${debugUrl}/healthz`)).status).toBe(200);
    expect(((await (await fetch(`${debugUrl}/readyz`)).json()) as { status: string }).status).toBe('ok');
    expect((await fetch(`${debugUrl}/v2/`)).status).toBe(404);
  });
});

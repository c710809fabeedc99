// The status page in a real browser: Debian's chromium, headless, driven by puppeteer-core. The
// mirror (in process) pulls images through a fake Docker Hub (token service, 307 to a CDN,
// rate-limit headers: what no local registry plays) and a second registry without rate limits;
// a third upstream is unreachable. The page is loaded, its figures are checked against /metrics,
// and a screenshot is saved to docs/status-page.png, which the README shows.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { configSchema } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';
import { FakeHub } from '../fixtures/fake-hub.js';
import { metric, parseMetrics, type Sample } from '../observability/metrics-text.js';

const SCREENSHOT = fileURLToPath(new URL('../../docs/status-page.png', import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT_MS = 60_000;

let browser: Browser | undefined;
let page: Page;
let server: RunningServer | undefined;
let root: string;
let hub: FakeHub | undefined;
let ghcr: FakeHub | undefined;
const m = {
  get url() {
    return server!.url;
  },
  async get(path: string): Promise<{ status: number; body: Buffer }> {
    const res = await fetch(`${server!.url}${path}`, { headers: { accept: CLIENT_ACCEPT } });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  },
};
const requested: string[] = [];
const problems: string[] = [];

async function pull(repository: string, tag: string, image: { config: string; layers: string[] }): Promise<void> {
  expect((await m.get(`/v2/${repository}/manifests/${tag}`)).status).toBe(200);
  for (const digest of [image.config, ...image.layers]) expect((await m.get(`/v2/${repository}/blobs/${digest}`)).status).toBe(200);
}

async function scrape(): Promise<Sample[]> {
  return parseMetrics((await m.get('/metrics')).body.toString('utf8'));
}

/** Requests are counted once their response finished, a moment after the client saw it. */
async function counted(requests: number): Promise<Sample[]> {
  for (let i = 0; ; i++) {
    const s = await scrape();
    if (metric(s, 'pullthrough_cache_requests_total') >= requests || i === 100) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (selector: string) => page.$eval(selector, (e) => e.textContent);
const rows = (table: string) => page.$$eval(`#${table} tr`, (trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));

beforeAll(async () => {
  hub = await FakeHub.start();
  ghcr = await FakeHub.start({ rateLimit: false });
  root = await mkdtemp(join(tmpdir(), 'pt-status-page-'));
  const timeouts = { connect: '2s', headers: '2s', body: '2s' };
  const config = configSchema.parse({
    listen: '127.0.0.1:0',
    storage: { driver: 'filesystem', filesystem: { root } },
    cache: { maxSize: '2GiB' },
    upstreams: [
      { name: 'docker.io', url: hub.url, timeouts },
      { name: 'ghcr.io', url: ghcr.url, timeouts },
      // Nothing listens on port 9 (discard): the page must show this upstream down, with the error.
      { name: 'quay.io', url: 'http://127.0.0.1:9', timeouts },
    ],
  });
  server = await startServer(config, pino({ level: 'silent' }));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI: chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
  page.on('request', (req) => requested.push(req.url()));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(String(err)));
}, TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await server?.close(100);
  await Promise.all([hub?.close(), ghcr?.close()]);
  if (root) await rm(root, { recursive: true, force: true });
}, TIMEOUT_MS);

test(
  'after real pulls, the page shows what /metrics counts, with nothing loaded from elsewhere',
  async () => {
    const alpine = hub!.addImage('library/alpine', '3.20', { layers: [randomBytes(3_400_000)] });
    const nginx = hub!.addImage('library/nginx', '1.27', { layers: [randomBytes(2_000_000), randomBytes(1_500_000), randomBytes(600_000)] });
    const app = ghcr!.addImage('acme/app', 'v1.4.2', { layers: [randomBytes(5_000_000), randomBytes(800_000)] });
    await pull('library/alpine', '3.20', alpine); // cold
    await pull('library/nginx', '1.27', nginx); // cold
    await pull('ghcr.io/acme/app', 'v1.4.2', app); // cold, through the path prefix
    for (let i = 0; i < 3; i++) await pull('library/alpine', '3.20', alpine); // warm
    await pull('ghcr.io/acme/app', 'v1.4.2', app); // warm
    for (let i = 0; i < 4; i++) expect((await m.get('/v2/library/nosuch/manifests/latest')).status).toBe(404);
    expect((await m.get('/v2/quay.io/org/tool/manifests/1')).status).toBe(503);
    const requests = 2 + 4 + 3 + 3 * 2 + 3 + 4 + 1 + 1; // manifest + blobs of each pull, the 404s and the 503
    const s = await counted(requests);

    await page.goto(`${m.url}/`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 10_000 });

    // Hit ratio and pulls saved, as /metrics counts them.
    const fromCache = ['hit', 'stale', 'revalidated', 'coalesced'].reduce(
      (n, result) =>
        n +
        metric(s, 'pullthrough_cache_requests_total', { kind: 'manifest', result }) +
        metric(s, 'pullthrough_cache_requests_total', { kind: 'blob', result }),
      0,
    );
    const all = metric(s, 'pullthrough_cache_requests_total', { kind: 'manifest' }) + metric(s, 'pullthrough_cache_requests_total', { kind: 'blob' });
    expect(fromCache).toBeGreaterThan(0);
    expect(await text('#hit-ratio')).toBe(`${((fromCache / all) * 100).toFixed(1)} %`);
    expect(await text('#hit-detail')).toContain(`${fromCache} of ${all} manifest and blob requests from cache`);
    expect(await text('#pulls-saved')).toBe(String(metric(s, 'pullthrough_upstream_pulls_saved_total')));
    expect(metric(s, 'pullthrough_upstream_pulls_saved_total')).toBe(4);

    // Bytes: served from cache against fetched upstream.
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(n / 2 ** 20 < 10 ? 2 : 1)} MiB`;
    expect(await text('#bytes-cache')).toBe(mib(metric(s, 'pullthrough_served_bytes_total', { source: 'cache' })));
    expect(await text('#bytes-detail')).toContain(`${mib(metric(s, 'pullthrough_upstream_bytes_total'))} fetched upstream`);

    // Storage against maxSize.
    expect(await text('#storage-used')).toBe(mib(metric(s, 'pullthrough_storage_bytes')));
    expect(await text('#storage-max')).toMatch(/^ of 2\.00 GiB \(\d+\.\d %\)$/);
    expect(await text('#storage-detail')).toContain(`${metric(s, 'pullthrough_storage_objects')} objects`);

    // Upstreams: reachable or not, the Hub's rate limit as the gauges have it, pulls saved each.
    const upstreams = await rows('upstreams');
    expect(upstreams.map((r) => [r[0], r[2]])).toEqual([
      ['docker.io default', 'yes'],
      ['ghcr.io', 'yes'],
      ['quay.io', 'no'],
    ]);
    const [hubRow, ghRow, quayRow] = upstreams;
    expect(hubRow![3]).toBe(
      `${metric(s, 'pullthrough_upstream_ratelimit_remaining', { upstream: 'docker.io' })} / ${metric(s, 'pullthrough_upstream_ratelimit_limit', { upstream: 'docker.io' })}`,
    );
    expect(hubRow![4]).toBe(`${metric(s, 'pullthrough_upstream_ratelimit_window_seconds', { upstream: 'docker.io' }) / 3600} h`);
    expect(hubRow![5]).toBe(String(metric(s, 'pullthrough_upstream_pulls_saved_total', { upstream: 'docker.io' })));
    expect(ghRow![3]).toBe('not sent');
    expect(ghRow![5]).toBe(String(metric(s, 'pullthrough_upstream_pulls_saved_total', { upstream: 'ghcr.io' })));
    expect(quayRow![8]).not.toBe('');

    // Readiness checks with their error text.
    const checks = await rows('checks');
    expect(checks.map((r) => [r[0], r[2]])).toEqual([
      ['storage', 'ok'],
      ['upstream docker.io', 'ok'],
      ['upstream ghcr.io', 'ok'],
      ['upstream quay.io', 'failing'],
    ]);
    expect(checks[3]![4]).toBe(quayRow![8]);

    // What is cached.
    const repositories = await rows('repositories');
    expect(repositories.map((r) => [r[0], r[1], r[2], r[3]]).sort()).toEqual([
      ['docker.io', 'library/alpine', '3.20', '1'],
      ['docker.io', 'library/nginx', '1.27', '1'],
      ['ghcr.io', 'acme/app', 'v1.4.2', '1'],
    ]);
    expect(await text('#cache-summary')).toMatch(/^3 repositories — docker\.io: 2 \(.+\) · ghcr\.io: 1 \(.+\)$/);

    // Recent errors, one row per distinct line with its count.
    const errors = await rows('errors');
    expect(errors.map((r) => [r[1], r[3]])).toEqual(
      expect.arrayContaining([
        // No such repository on the Hub (its 401 insufficient_scope): NAME_UNKNOWN, as distribution answers.
        ['4', expect.stringContaining('GET /v2/library/nosuch/manifests/latest 404 NAME_UNKNOWN repository library/nosuch not found upstream')],
        ['1', expect.stringContaining('GET /v2/quay.io/org/tool/manifests/1 503 UNAVAILABLE')],
      ]),
    );

    expect(requested.filter((url) => !url.startsWith(`${m.url}/`))).toEqual([]);
    expect(requested.map((url) => new URL(url).pathname).sort()).toEqual(['/', '/status.json']);
    expect(problems).toEqual([]);

    await mkdir(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  },
  TIMEOUT_MS,
);

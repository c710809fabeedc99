import { performance } from 'node:perf_hooks';
import { captureLog, type CapturedLog } from '../observability/capture-log.js';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

/** Timeouts short enough for a test; the probe backoff as short as the headers timeout. */
const HANGING = { tagTTL: 0, timeouts: { connect: '1s', headers: '1s', body: '1s' }, health: { probeInitial: '1s', probeMax: '2s' } };

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await run();
  return { value, seconds: (performance.now() - started) / 1000 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 100) throw new Error('condition not reached in 5 s');
    await sleep(50);
  }
}

/** An upstream that failed is remembered as down: cached answers come at once, recovery is probed one request at a time. */
describe('upstream health', () => {
  let m: MirrorUnderTest;
  let captured: CapturedLog;
  afterEach(async () => m.close());

  test.each(['background', 'wait'])(
    'tagRevalidation %s, hanging upstream, cached tag past its TTL: at most one wait of the headers timeout, then 20 answers from the cache; a moved tag is seen once it is back',
    async (tagRevalidation) => {
      captured = captureLog();
      m = await startMirror({ upstream: { ...HANGING, tagRevalidation }, log: captured.log });
      const first = m.hub.addImage('library/app', '1');
      expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);

      m.hub.fault({ kind: 'hang', match: {}, phase: 'headers' });
      m.hub.resetCounts();
      const times: number[] = [];
      for (let i = 0; i < 21; i++) {
        const { value, seconds } = await timed(() => m.get('/v2/library/app/manifests/1'));
        expect(value.status).toBe(200);
        expect(value.body.equals(first.manifest)).toBe(true);
        times.push(seconds);
      }
      console.log(
        `hanging upstream, tagRevalidation ${tagRevalidation}: first ${times[0]!.toFixed(3)}s, next 20 max ${Math.max(...times.slice(1)).toFixed(3)}s, total ${times.reduce((a, b) => a + b, 0).toFixed(3)}s`,
      );
      expect(times[0]).toBeLessThan(1 + 2); // the headers timeout, with generous slack
      for (const t of times.slice(1)) expect(t).toBeLessThan(1);
      // At most the first request and one probe per second of the loop reached the upstream.
      expect(m.hub.count({ kind: 'manifest' })).toBeLessThanOrEqual(1 + Math.ceil(times.reduce((a, b) => a + b, 0)));

      await until(() => !m.server.mirror.router.default.client.up); // background: the HEAD times out behind the answers
      const ready = await m.get('/readyz');
      const upstreamCheck = json(ready.body).checks.find((c: { name: string }) => c.name === 'upstream docker.io');
      expect([json(ready.body).status, upstreamCheck.ok]).toEqual(['degraded', false]);
      expect(upstreamCheck.error).toMatch(/is down .*Headers Timeout/i);
      expect((await m.get('/metrics')).body.toString()).toMatch(/pullthrough_upstream_up\{upstream="docker.io",url="[^"]+"\} 0/);
      expect(captured.lines.filter((l) => l.msg?.startsWith('upstream is down'))).toHaveLength(1);

      // Back, with the tag moved: the next revalidation after the backoff picks it up.
      m.hub.clearFaults();
      const moved = m.hub.addImage('library/app', '1', { layers: [Buffer.from('moved')] });
      let served: Buffer | undefined;
      for (let i = 0; i < 20 && !served?.equals(moved.manifest); i++) {
        await sleep(250);
        served = (await m.get('/v2/library/app/manifests/1')).body;
      }
      expect(served?.equals(moved.manifest)).toBe(true);
      expect((await m.get('/metrics')).body.toString()).toMatch(/pullthrough_upstream_up\{upstream="docker.io",url="[^"]+"\} 1/);
      expect(captured.lines.filter((l) => l.msg === 'upstream is up again')).toHaveLength(1);
      expect(captured.lines.filter((l) => l.msg?.startsWith('upstream is down'))).toHaveLength(1);
    },
  );

  test('while down, a request with nothing cached still goes out, and its success marks the upstream up', async () => {
    m = await startMirror({ upstream: { ...HANGING, tagRevalidation: 'wait', health: { probeInitial: '1m', probeMax: '1m' } } });
    m.hub.addImage('library/app', '1');
    const cold = m.hub.addImage('library/cold', '1');
    await m.get('/v2/library/app/manifests/1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 503, times: 1 });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200); // stale
    expect(m.server.mirror.router.default.client.up).toBe(false);
    const res = await m.get('/v2/library/cold/manifests/1');
    expect(res.body.equals(cold.manifest)).toBe(true);
    expect(m.server.mirror.router.default.client.up).toBe(true);
  });

  test('a 429 with Retry-After holds the upstream down: cached answers at once, uncached requests 429 without asking it', async () => {
    m = await startMirror({ upstream: { ...HANGING, tagRevalidation: 'wait', health: { probeInitial: '100ms', probeMax: '100ms' } } });
    m.hub.addImage('library/app', '1');
    m.hub.addImage('library/cold', '1');
    await m.get('/v2/library/app/manifests/1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest' }, status: 429, headers: { 'retry-after': '120' }, times: 1 });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200); // stale
    m.hub.resetCounts();
    await sleep(300); // past the probe backoff, not past Retry-After
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    const cold = await m.get('/v2/library/cold/manifests/1');
    expect(cold.status).toBe(429);
    expect(json(cold.body).errors[0].code).toBe('TOOMANYREQUESTS');
    expect(Number(cold.headers['retry-after'])).toBeGreaterThan(100);
    expect(m.hub.count({ role: 'registry' })).toBe(0);
  });
  test("a 5xx from the blob CDN fails that blob alone: the registry stays up, a stale tag is still revalidated, /readyz ok; the CDN's own words reach the client", async () => {
    m = await startMirror({ upstream: { ...HANGING, tagRevalidation: 'wait', health: { probeInitial: '1m', probeMax: '1m' } } });
    const image = m.hub.addImage('library/app', '1');
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    // Docker Hub's CDN answers in S3's XML, not the registry's JSON.
    m.hub.fault({ kind: 'status', match: { role: 'cdn' }, status: 503 });
    const blob = await m.get(`/v2/library/app/blobs/${image.layers[0]}`);
    expect(blob.status).toBe(503);
    expect(json(blob.body).errors[0]).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('InjectedFault') });
    expect(json(blob.body).errors[0].message).toContain('fault 503');

    expect(m.server.mirror.router.default.client.up).toBe(true);
    expect(json((await m.get('/readyz')).body).status).toBe('ok');
    m.hub.resetCounts();
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    // Not held back by a health gate the CDN closed: the tag (TTL 0) was asked of the registry.
    expect(m.hub.count({ kind: 'manifest' })).toBeGreaterThanOrEqual(1);
  });
});

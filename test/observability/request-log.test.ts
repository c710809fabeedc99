import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { partialGet } from '../faults/fault-kit.js';
import { captureLog, linesMatching } from './capture-log.js';

/** `total` GETs of `path` over `concurrency` keep-alive connections; resolves with the status counts. */
async function hammer(url: string, total: number, concurrency: number): Promise<Map<number, number>> {
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  const statuses = new Map<number, number>();
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      sent += 1;
      const res = await request(url, { dispatcher: agent });
      await res.body.dump();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await agent.close();
  return statuses;
}

describe('request log', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('10,000 retries of a failing request write fewer than 50 lines: the first, then a summary', async () => {
    const captured = captureLog();
    m = await startMirror({ log: captured.log });
    await m.hub.stop(); // every manifest request now fails: 503, upstream unreachable
    const statuses = await hammer(`${m.url}/v2/library/gone/manifests/latest`, 10_000, 32);
    expect(statuses.get(503)).toBe(10_000);
    await m.close();
    m = { close: async () => undefined } as MirrorUnderTest;

    const lines = captured.lines;
    console.log(`10,000 failing requests → ${lines.length} log lines:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    expect(lines.length).toBeLessThan(50);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests[0]).toMatchObject({
      level: 40,
      method: 'GET',
      path: '/v2/library/gone/manifests/latest',
      status: 503,
      error: 'UNAVAILABLE',
      upstreamStatus: 'unreachable',
      client: expect.any(String),
    });
    const summaries = lines.filter((l) => typeof l.repeated === 'number');
    expect(summaries.reduce((n, l) => n + (l.repeated as number), 0)).toBe(10_000 - 1);
    expect(summaries[0]!.msg).toMatch(/^request: repeated \d+ times in the last 60s$/);
  }, 60_000);

  test('one line per request with cache status and upstream status; no credentials anywhere', async () => {
    const captured = captureLog();
    m = await startMirror({
      log: captured.log,
      hub: { credentials: { username: 'ci', password: 's3cret-pw' } },
      upstream: { username: 'ci', password: 's3cret-pw' },
    });
    const image = m.hub.addImage('library/app', '1');
    m.hub.addImage('library/nope', 'other'); // a repository the Hub has: tag 1 is an unknown manifest
    await m.get('/v2/library/app/manifests/1');
    await m.get('/v2/library/app/manifests/1');
    await m.get(`/v2/library/app/blobs/${image.config}`);
    await m.get('/v2/library/nope/manifests/1');
    const requests = await linesMatching(captured, (l) => l.msg === 'request', 4);
    expect(requests).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/v2/library/app/manifests/1',
        status: 200,
        cache: 'miss',
        upstreamStatus: 200,
        bytes: image.manifest.length,
      }),
      expect.objectContaining({ status: 200, cache: 'hit' }),
      // The blob came from the CDN after a 307: the last upstream answer is logged.
      expect.objectContaining({ path: `/v2/library/app/blobs/${image.config}`, status: 200, cache: 'miss', upstreamStatus: 200 }),
      expect.objectContaining({ status: 404, error: 'MANIFEST_UNKNOWN', upstreamStatus: 404, level: 30 }),
    ]);
    expect(requests[1]!.upstreamStatus).toBeUndefined(); // a hit contacts no upstream
    const everything = JSON.stringify(captured.lines);
    expect(everything).not.toContain('s3cret-pw');
    expect(everything).not.toMatch(/Bearer |Basic /);
    expect(m.hub.tokensIssued).toBeGreaterThan(0);
  });

  test('stale-serving warnings while the upstream is down are rate-limited too', async () => {
    const captured = captureLog();
    m = await startMirror({ log: captured.log, upstream: { tagTTL: 0 } });
    m.hub.addImage('library/stale', '1');
    expect((await m.get('/v2/library/stale/manifests/1')).status).toBe(200);
    await m.hub.stop();
    for (let i = 0; i < 200; i++) expect((await m.get('/v2/library/stale/manifests/1')).status).toBe(200);
    const warnings = captured.lines.filter((l) => l.msg === 'upstream failed; serving stale tag');
    expect(warnings).toHaveLength(1);
    expect(await linesMatching(captured, (l) => l.msg === 'request' && l.cache === 'stale', 200)).toHaveLength(200);
    await m.hub.restart();
  });

  test('probes and scrapes log at debug, not info', async () => {
    const captured = captureLog();
    m = await startMirror({ log: captured.log });
    await m.get('/healthz');
    await m.get('/metrics');
    await m.get('/status.json');
    await m.get('/');
    await m.get('/v2/');
    expect((await linesMatching(captured, (l) => l.msg === 'request', 1)).map((l) => l.path)).toEqual(['/v2/']);
  });

  test('a client hanging up mid-blob is logged as 499 with the status sent and the bytes it got; the fetch goes on', async () => {
    const captured = captureLog();
    m = await startMirror({ log: captured.log });
    const layer = randomBytes(4 * 1024 * 1024);
    const image = m.hub.addImage('library/gone', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 64 * 1024, delayMs: 10, times: 1 });
    const got = await partialGet(`${m.url}/v2/library/gone/blobs/${digest}`, 128 * 1024, (req) => req.destroy());
    const [line] = await linesMatching(captured, (l) => l.msg === 'request' && l.status === 499, 1);
    expect(line).toMatchObject({ path: `/v2/library/gone/blobs/${digest}`, status: 499, sentStatus: 200, aborted: true, cache: 'miss', level: 30 });
    expect(line!.bytes).toBeGreaterThanOrEqual(got);
    expect(line!.bytes).toBeLessThan(layer.length);
    expect(line!.error).toBeUndefined();
    // Nobody else wanted it, yet the blob is fetched to the end and stored for the next pull.
    await m.server.mirror.blobs.settled();
    expect(await m.files()).toContain(`blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`);
  });
});

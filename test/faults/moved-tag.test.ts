import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';
import type { Fault } from '../fixtures/fake-hub-faults.js';
import { captureLog } from '../observability/capture-log.js';
import { until } from './fault-kit.js';

/** The GET of the moved tag's new manifest fails in each way an upstream can fail it; its HEAD succeeds. */
const FAILED_GETS: [string, Fault][] = [
  ['answers 503', { kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 503 }],
  // Docker Hub's pull limit counts GETs only: the HEAD passes, the GET is refused.
  ['answers 429', { kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 429, headers: { 'Retry-After': '1' } }],
  ['sends a body that is not JSON', { kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 200, body: 'not a manifest' }],
  ['never answers', { kind: 'hang', match: { kind: 'manifest', method: 'GET' }, phase: 'headers' }],
];

const TIMEOUTS = { timeouts: { connect: '1s', headers: '300ms', body: '300ms' } };
/** The upstream is held down after the failed GET; probed again soon, so a test need not wait the default 2 s. */
const PROBE_SOON = { health: { probeInitial: '20ms', probeMax: '20ms' } };

/**
 * A cached tag past its TTL whose HEAD says it moved, and whose new manifest then cannot be
 * fetched: the stale manifest is served (stale-if-error), as when the HEAD itself fails.
 */
describe('a moved tag whose new manifest cannot be fetched', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test.each(FAILED_GETS)('tagRevalidation wait, the GET %s: the stale manifest, and the new one once the GET works', async (_name, fault) => {
    const captured = captureLog();
    m = await startMirror({ upstream: { tagTTL: 0, tagRevalidation: 'wait', ...TIMEOUTS, ...PROBE_SOON }, log: captured.log });
    const v1 = m.hub.addImage('library/app', 'latest');
    expect((await m.get('/v2/library/app/manifests/latest')).status).toBe(200);
    const v2 = m.hub.addImage('library/app', 'latest');
    m.hub.fault(fault);
    m.hub.resetCounts();

    const stale = await m.get('/v2/library/app/manifests/latest');
    expect([stale.status, stale.headers['docker-content-digest']]).toEqual([200, v1.digest]);
    expect(stale.body.equals(v1.manifest)).toBe(true);
    expect(m.hub.count({ kind: 'manifest', method: 'HEAD' })).toBe(1);
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(1);
    expect(captured.lines.filter((l) => l.msg === 'upstream failed; serving stale tag')).toEqual([
      expect.objectContaining({ repository: 'library/app', tag: 'latest' }),
    ]);

    m.hub.clearFaults();
    const moved = await until('the new manifest', async () => {
      const res = await m.get('/v2/library/app/manifests/latest');
      return res.headers['docker-content-digest'] === v2.digest && res;
    });
    expect(moved.body.equals(v2.manifest)).toBe(true);
  });

  test('tagRevalidation wait, a HEAD: the revalidating HEAD says moved, the HEAD of the new one fails: the stale answer', async () => {
    const captured = captureLog();
    m = await startMirror({ upstream: { tagTTL: 0, tagRevalidation: 'wait', ...PROBE_SOON }, log: captured.log });
    const v1 = m.hub.addImage('library/app', 'latest');
    expect((await m.get('/v2/library/app/manifests/latest')).status).toBe(200);
    m.hub.addImage('library/app', 'latest');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest', method: 'HEAD' }, status: 503, skip: 1 });
    m.hub.resetCounts();

    const stale = await fetch(`${m.url}/v2/library/app/manifests/latest`, { method: 'HEAD', headers: { accept: CLIENT_ACCEPT } });
    expect([stale.status, stale.headers.get('docker-content-digest')]).toEqual([200, v1.digest]);
    expect(m.hub.count({ kind: 'manifest', method: 'HEAD' })).toBe(2);
    expect(captured.lines.filter((l) => l.msg === 'upstream failed; serving stale tag')).toHaveLength(1);
  });

  test('tagRevalidation wait, nothing stale to serve: the GET failure reaches the client', async () => {
    m = await startMirror({ upstream: { tagTTL: 0, tagRevalidation: 'wait' } });
    m.hub.addImage('library/app', 'latest');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 503 });
    const res = await m.get('/v2/library/app/manifests/latest');
    expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
  });

  test('tagRevalidation background, the GET answers 503 on every try: each pull gets the stale manifest, one warning', async () => {
    const captured = captureLog();
    m = await startMirror({ upstream: { tagTTL: 0, ...PROBE_SOON }, log: captured.log });
    const v1 = m.hub.addImage('library/app', 'latest');
    expect((await m.get('/v2/library/app/manifests/latest')).status).toBe(200);
    m.hub.addImage('library/app', 'latest');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 503 });
    m.hub.resetCounts();

    // Pulls until five revalidations behind them moved on to the GET and saw it fail (some are held back in between).
    await until('5 failed GETs', async () => {
      const res = await m.get('/v2/library/app/manifests/latest');
      expect([res.status, res.headers['docker-content-digest']]).toEqual([200, v1.digest]);
      return m.hub.count({ kind: 'manifest', method: 'GET', status: 503 }) >= 5;
    });
    await until('the last revalidation', () => m.hub.requests.every((r) => r.status !== 0));
    const warnings = captured.lines.filter((l) => l.msg === 'upstream failed; serving stale tag');
    expect(warnings).toEqual([
      expect.objectContaining({ upstream: 'docker.io', repository: 'library/app', tag: 'latest', err: expect.stringMatching(/answered 503 UNAVAILABLE/) }),
    ]);
  });
});

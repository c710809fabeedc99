import { randomBytes } from 'node:crypto';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { download, errorCode, expectNothingWrongStored, herd, SHORT_TIMEOUTS } from './fault-kit.js';

/**
 * The token service failing in the middle of a pull, and tokens expiring under one. (The plain
 * "token service down, nothing cached" case is in test/api/upstream-auth.test.ts.)
 */
describe('upstream token faults', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  /** A two-layer image whose manifest and first layer are cached. */
  async function halfPulled() {
    const layers = [randomBytes(120_000), randomBytes(150_000)];
    const image = m.hub.addImage('library/app', '1', { layers });
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    expect((await download(`${m.url}/v2/library/app/blobs/${image.layers[0]}`)).status).toBe(200);
    return { image, layers };
  }

  test.each([
    ['down (503)', { kind: 'tokenDown' as const }],
    ['hanging', { kind: 'hang' as const, match: { role: 'auth' as const }, phase: 'headers' as const }],
    ['in a redirect loop', { kind: 'redirectLoop' as const, match: { role: 'auth' as const } }],
  ])('token service %s mid-pull: cached parts served; the uncached layer 503s for every joiner; clean retry', async (_name, fault) => {
    m = await startMirror({ upstream: SHORT_TIMEOUTS });
    const { image, layers } = await halfPulled();
    m.hub.expireTokens(); // the mirror's cached token is now refused: it must go back to the token service
    m.hub.fault(fault);

    expect((await m.get('/v2/library/app/manifests/1')).body.equals(image.manifest)).toBe(true);
    expect((await download(`${m.url}/v2/library/app/blobs/${image.layers[0]}`)).bytes?.equals(layers[0]!)).toBe(true);
    const results = await herd(4, `${m.url}/v2/library/app/blobs/${image.layers[1]}`);
    for (const r of results) {
      expect([r.status, errorCode(r)]).toEqual([503, 'UNAVAILABLE']);
      expect(JSON.parse(r.bytes!.toString()).errors[0].message).toMatch(/token service/);
    }
    await expectNothingWrongStored(m, image.layers[1]!);

    m.hub.clearFaults();
    expect((await download(`${m.url}/v2/library/app/blobs/${image.layers[1]}`)).bytes?.equals(layers[1]!)).toBe(true);
  });

  test('tokens expire between the manifest and the blobs: concurrent blob GETs refresh the token and all succeed', async () => {
    m = await startMirror();
    const layers = Array.from({ length: 4 }, () => randomBytes(60_000));
    const image = m.hub.addImage('library/expiring', '1', { layers });
    expect((await m.get('/v2/library/expiring/manifests/1')).status).toBe(200);
    const issued = m.hub.tokensIssued;
    m.hub.expireTokens();
    const results = await Promise.all(image.layers.map((d) => download(`${m.url}/v2/library/expiring/blobs/${d}`)));
    results.forEach((r, i) => expect(r.bytes?.equals(layers[i]!)).toBe(true));
    // The refused token was replaced, not retried: each blob saw one 401 at most.
    expect(m.hub.tokensIssued).toBeGreaterThan(issued);
    expect(m.hub.count({ kind: 'blob', status: 401 })).toBeLessThanOrEqual(layers.length);
    await expectNothingWrongStored(m);
  });

  test.each([true, false])('tokens expire during a long blob transfer (CDN redirect: %s): the transfer completes', async (redirectBlobs) => {
    m = await startMirror({ hub: { redirectBlobs } });
    const layer = randomBytes(1_000_000);
    const image = m.hub.addImage('library/long', '1', { layers: [layer] });
    m.hub.fault({ kind: 'slow', digest: image.layers[0]!, chunkBytes: 64 * 1024, delayMs: 15 });
    const pending = download(`${m.url}/v2/library/long/blobs/${image.layers[0]}`);
    await new Promise((r) => setTimeout(r, 60));
    m.hub.expireTokens();
    expect((await pending).bytes?.equals(layer)).toBe(true);
    await expectNothingWrongStored(m);
  });
});

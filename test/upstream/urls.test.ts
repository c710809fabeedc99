import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { configSchema } from '../../src/config.js';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { FakeHub } from '../fixtures/fake-hub.js';

/** A TCP server that accepts connections and never answers: the outage that costs a timeout. */
async function startHanging(): Promise<{ url: string; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

const TIMEOUTS = { connect: '1s', headers: '1s', body: '1s' };

describe('several URLs per upstream', () => {
  let m: MirrorUnderTest | undefined;
  let primary: Awaited<ReturnType<typeof startHanging>>;
  let fallback: FakeHub;
  beforeEach(async () => {
    primary = await startHanging();
    fallback = await FakeHub.start();
  });
  afterEach(async () => {
    await m?.close();
    m = undefined;
    await primary.close();
    await fallback.close();
  });

  test('a primary that hangs and a fallback that is up: pulls succeed through the fallback; the primary is then skipped, each URL with its own health', async () => {
    // The harness's own hub goes unused: the upstream is the hanging primary, then `fallback`.
    m = await startMirror({
      upstream: { url: undefined, urls: [primary.url, fallback.url], timeouts: TIMEOUTS, health: { probeInitial: '1m', probeMax: '1m' } },
    });
    const layer = randomBytes(40_000);
    const image = fallback.addImage('library/app', '1', { layers: [layer] });
    expect((await m.get('/v2/library/app/manifests/1')).body.equals(image.manifest)).toBe(true);
    expect(primary.connections).toBe(1);
    expect((await m.get(`/v2/library/app/blobs/${image.layers[0]}`)).body.equals(layer)).toBe(true);
    const other = fallback.addImage('library/other', '1');
    expect((await m.get('/v2/library/other/manifests/1')).body.equals(other.manifest)).toBe(true);
    expect(primary.connections).toBe(1);
    const metrics = (await m.get('/metrics')).body.toString();
    expect(metrics).toContain(`pullthrough_upstream_up{upstream="docker.io",url="${primary.url}"} 0`);
    expect(metrics).toContain(`pullthrough_upstream_up{upstream="docker.io",url="${fallback.url}"} 1`);
  });

  test('a primary back after its backoff is probed by one request, then used again', async () => {
    const hub = await FakeHub.start();
    try {
      m = await startMirror({
        upstream: { url: undefined, urls: [hub.url, fallback.url], timeouts: TIMEOUTS, health: { probeInitial: '200ms', probeMax: '200ms' } },
      });
      for (const h of [hub, fallback]) h.addImage('library/app', '1');
      hub.fault({ kind: 'hang', match: { role: 'registry' }, phase: 'headers' });
      expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200); // through the fallback
      const gauge = `pullthrough_upstream_up{upstream="docker.io",url="${hub.url}"}`;
      expect((await m.get('/metrics')).body.toString()).toContain(`${gauge} 0`);
      hub.clearFaults();
      hub.resetCounts();
      const other = hub.addImage('library/other', '1');
      fallback.addImage('library/other', '1', { layers: [Buffer.from('fallback copy')] });
      await new Promise((r) => setTimeout(r, 300));
      expect((await m.get('/v2/library/other/manifests/1')).body.equals(other.manifest)).toBe(true);
      expect((await m.get('/metrics')).body.toString()).toContain(`${gauge} 1`);
    } finally {
      await m?.close();
      m = undefined;
      await hub.close();
    }
  });

  test('url and urls together, or neither, is a config error', () => {
    expect(() => configSchema.parse({ upstreams: [{ name: 'docker.io', url: 'https://a', urls: ['https://b'] }] })).toThrow(/set one of url and urls/);
    expect(() => configSchema.parse({ upstreams: [{ name: 'docker.io' }] })).toThrow(/set one of url and urls/);
    const [u] = configSchema.parse({ upstreams: [{ name: 'ghcr.io', urls: ['https://a/', 'https://b'] }] }).upstreams;
    expect([u!.url, u!.urls]).toEqual(['https://a', ['https://a', 'https://b']]);
  });
});

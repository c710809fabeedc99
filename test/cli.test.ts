import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ensureBuilt, startCli } from './cli-harness.js';
import { FakeHub } from './fixtures/fake-hub.js';

beforeAll(ensureBuilt, 180_000);

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('pullthrough serve', () => {
  let hub: FakeHub;
  let dir: string;
  beforeEach(async () => {
    hub = await FakeHub.start();
    dir = await mkdtemp(join(tmpdir(), 'pt-cli-'));
  });
  afterEach(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('SIGTERM during a slow cold blob pull: exits 0 within the shutdown timeout, no temp left', async () => {
    const layer = randomBytes(4 * 1024 * 1024);
    const image = hub.addImage('library/slow', '1', { layers: [layer] });
    // 64 chunks 100 ms apart: the pull would take over 6 s.
    hub.fault({ kind: 'slow', digest: image.layers[0]!, chunkBytes: 64 * 1024, delayMs: 100 });
    const root = join(dir, 'storage');
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      ['listen: "127.0.0.1:0"', `storage: { driver: filesystem, filesystem: { root: "${root}" } }`, `upstreams: [{ name: docker.io, url: "${hub.url}" }]`, 'shutdownTimeout: 500ms', ''].join('\n'),
    );
    const server = startCli(['serve', '--config', config]);
    try {
      const started = await until('the startup line', () => server.lines.find((l) => l.msg === 'pullthrough listening'));
      expect(started).toMatchObject({ version: expect.any(String), listen: '127.0.0.1:0', storage: `filesystem ${root}`, upstreams: [`docker.io=${hub.url}`] });

      const res = await request(`${started.url}/v2/library/slow/blobs/${image.layers[0]}`);
      expect(res.statusCode).toBe(200);
      let received = 0;
      const download = (async () => {
        for await (const chunk of res.body) received += (chunk as Buffer).length;
      })().then(
        () => 'ended',
        () => 'aborted',
      );
      await until('bytes to flow and a temp file', async () => received > 0 && (await readdir(join(root, '_tmp'))).length > 0);

      const signalled = Date.now();
      server.child.kill('SIGTERM');
      const code = await server.exited;
      const took = Date.now() - signalled;
      console.log(`SIGTERM → exit ${code} after ${took} ms`);
      expect(code).toBe(0);
      expect(took).toBeLessThan(5_000);
      // The client sees a cut transfer, never a clean end short of the blob.
      expect(await download).toBe('aborted');
      expect(received).toBeLessThan(layer.length);
      expect(await readdir(join(root, '_tmp'))).toEqual([]);
      expect(await readdir(root)).not.toContain('blobs');
      expect(server.lines.map((l) => l.msg)).toContain('shutting down');
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 30_000);
});

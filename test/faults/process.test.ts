import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ensureBuilt, startCli } from '../cli-harness.js';
import { FakeHub } from '../fixtures/fake-hub.js';
import { auditStorage, blobFile, download, errorCode, until } from './fault-kit.js';

beforeAll(ensureBuilt, 180_000);

/**
 * `kill -9` of the real process in the middle of writing a large cold blob, then a restart on the
 * same storage. (SIGTERM during a pull is test/cli.test.ts.)
 */
describe('process killed mid-write', () => {
  let hub: FakeHub;
  let dir: string;
  beforeEach(async () => {
    hub = await FakeHub.start();
    dir = await mkdtemp(join(tmpdir(), 'pt-kill-'));
  });
  afterEach(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function serve(config: string) {
    const server = startCli(['serve', '--config', config]);
    const started = await until('the startup line', () => server.lines.find((l) => l.msg === 'pullthrough listening'));
    return { ...server, url: started.url as string };
  }

  test('kill -9 during a cold blob write: no half-written blob; restart sweeps the temp; the next pull refetches and verifies', async () => {
    const layer = randomBytes(4 * 1024 * 1024);
    const image = hub.addImage('library/big', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    // 64 KiB every 50 ms: the transfer takes seconds, so the kill lands mid-write.
    hub.fault({ kind: 'slow', digest, chunkBytes: 64 * 1024, delayMs: 50, times: 1 });
    const root = join(dir, 'storage');
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'listen: "127.0.0.1:0"',
        `storage: { driver: filesystem, filesystem: { root: "${root}" } }`,
        `upstreams: [{ name: docker.io, url: "${hub.url}" }]`,
        '',
      ].join('\n'),
    );

    const first = await serve(config);
    let received = 0;
    let outcome: Promise<string>;
    try {
      const res = await request(`${first.url}/v2/library/big/blobs/${digest}`);
      expect(res.statusCode).toBe(200);
      outcome = (async () => {
        for await (const chunk of res.body) received += (chunk as Buffer).length;
      })().then(
        () => 'ended',
        () => 'aborted',
      );
      const temp = await until('a temp file with bytes in it', async () => {
        const [name] = await readdir(join(root, '_tmp'));
        return name && (await stat(join(root, '_tmp', name))).size > 256 * 1024 ? name : undefined;
      });
      first.child.kill('SIGKILL');
      expect(await first.exited).toBeNull();
      // The client saw a cut transfer, never a clean end short of the blob.
      expect(await outcome).toBe('aborted');
      expect(received).toBeLessThan(layer.length);
      // What the kill left: a partial temp, and nothing under the blob's key.
      expect(await readdir(join(root, '_tmp'))).toEqual([temp]);
      expect((await auditStorage(root)).files).not.toContain(blobFile(digest));
    } finally {
      first.child.kill('SIGKILL');
    }

    // Restart on the same storage with the upstream down: the blob is not served from the partial
    // write; the request fails cleanly with an OCI error.
    await hub.stop();
    const second = await serve(config);
    try {
      expect(await readdir(join(root, '_tmp'))).toEqual([]);
      const offline = await download(`${second.url}/v2/library/big/blobs/${digest}`);
      expect([offline.status, errorCode(offline)]).toEqual([503, 'UNAVAILABLE']);

      // Upstream back: the next pull refetches the whole blob, verifies it and stores it.
      await hub.restart();
      hub.resetCounts();
      const again = await download(`${second.url}/v2/library/big/blobs/${digest}`);
      expect(again.status).toBe(200);
      expect(createHash('sha256').update(again.bytes!).digest('hex')).toBe(digest.slice('sha256:'.length));
      expect(hub.count({ role: 'cdn', status: 200 })).toBe(1);
      const audit = await until('the commit', async () => {
        const a = await auditStorage(root);
        return a.files.includes(blobFile(digest)) ? a : undefined;
      });
      expect({ temps: audit.temps, corrupt: audit.corrupt, outside: audit.outside }).toEqual({ temps: [], corrupt: [], outside: [] });
    } finally {
      second.child.kill('SIGKILL');
    }
  }, 30_000);
});

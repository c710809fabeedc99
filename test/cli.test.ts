import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CLI, ensureBuilt, REPO, startCli, startNpm } from './cli-harness.js';
import { until } from './faults/fault-kit.js';
import { FakeHub } from './fixtures/fake-hub.js';

beforeAll(ensureBuilt, 180_000);

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
      [
        'listen: "127.0.0.1:0"',
        `storage: { driver: filesystem, filesystem: { root: "${root}" } }`,
        `upstreams: [{ name: docker.io, url: "${hub.url}" }]`,
        'shutdownTimeout: 500ms',
        '',
      ].join('\n'),
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

describe('process warnings', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-cli-warn-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  test("reach the log as JSON warn lines, never stderr: the AWS SDK's Node-version notice and any other", async () => {
    // The S3 driver builds its client at start, which is when the SDK warns about Node < 22; the
    // endpoint is a closed loopback port (the server starts anyway and counts from zero).
    const config = join(dir, 'config.yaml');
    await writeFile(
      config,
      [
        'listen: "127.0.0.1:0"',
        'storage: { driver: s3, s3: { bucket: mirror, endpoint: "http://127.0.0.1:9", forcePathStyle: true, accessKeyId: a, secretAccessKey: b } }',
        'upstreams: [{ name: docker.io, url: "http://127.0.0.1:9" }]',
        '',
      ].join('\n'),
    );
    // Any other warning: one this hook emits when the test asks (SIGUSR2), once the server runs.
    const hook = join(dir, 'warn-on-usr2.mjs');
    await writeFile(hook, "process.on('SIGUSR2', () => process.emitWarning('asked for by the test', 'TestWarning'));\n");
    const server = startCli(['serve', '--config', config], { env: { NODE_OPTIONS: `--import=${hook}` } });
    try {
      await until('the startup line', () => server.lines.find((l) => l.msg === 'pullthrough listening'));
      server.child.kill('SIGUSR2');
      const warned = await until('the test warning', () => server.lines.find((l) => l.warning?.name === 'TestWarning'));
      expect(warned).toMatchObject({ level: 40, msg: 'process warning: TestWarning: asked for by the test' });
      if (Number(process.versions.node.split('.')[0]) < 22) {
        expect(server.lines.some((l) => l.level === 40 && /NodeVersionSupportWarning/.test(l.warning?.message))).toBe(true);
      }
      expect(server.text).toEqual([]);
      expect(server.stderr()).toBe('');
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  }, 30_000);
});

describe('npm start', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-npm-start-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  test('builds nothing when no source changed, and SIGTERM to npm stops the server: no process keeps the port', async () => {
    expect(spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'ignore' }).status).toBe(0);
    const built = (await stat(CLI)).mtimeMs;
    const hub = await FakeHub.start();
    const npm = startNpm(['--listen', '127.0.0.1:0', '--storage', join(dir, 'storage'), '--upstream', hub.url]);
    let below: number[] = [];
    try {
      const started = await until('the startup line', () => npm.lines.find((l) => l.msg === 'pullthrough listening'), 30_000);
      expect((await stat(CLI)).mtimeMs).toBe(built);
      expect((await request(`${started.url}/healthz`)).statusCode).toBe(200);
      below = descendants(npm.child.pid!);
      expect(below.length).toBeGreaterThan(0);

      npm.child.kill('SIGTERM');
      await npm.exited;
      // The server got the signal too and shut down; nothing answers on its port any more.
      await until('every process npm started to exit', () => below.every((pid) => !isRunning(pid)));
      await expect(request(`${started.url}/healthz`)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      // A failed run must not leave a server behind, nor its pipes keeping jest alive.
      for (const pid of [...below, npm.child.pid!]) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
      await hub.close();
    }
  }, 60_000);
});

/** Every process below `pid` (children, their children…). */
function descendants(pid: number): number[] {
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

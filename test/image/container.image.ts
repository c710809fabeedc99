// The project's Dockerfile, built with podman here (no image registry reachable: the FROM image
// is assembled locally by scripts/build-base-image.sh) and run as users run it: a pull through the
// container with skopeo from a real upstream (Debian's docker-registry), the HEALTHCHECK, a
// non-root process, the cache in the volume, config by environment and by a mounted file, the
// README's published-port one-liner, and SIGTERM. Run by `npm run test:image`.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { buildImage, KiB, MiB, pushImage, type PushedImage } from '../e2e/harness/images.js';
import { freePort } from '../e2e/harness/ports.js';
import { run } from '../e2e/harness/run.js';
import { skopeoCopy } from '../e2e/harness/skopeo.js';
import { makeTempDir, removeDir } from '../e2e/harness/tmp.js';
import { UpstreamRegistry } from '../e2e/harness/upstream-registry.js';
import { until } from '../faults/fault-kit.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PODMAN = join(REPO, 'scripts', 'image-podman.sh');
const TAG = 'localhost/pullthrough:test';
/** Everything this run creates in the store carries this, so afterAll removes exactly that. */
const RUN = `pt-image-${randomBytes(4).toString('hex')}`;

function podman(args: string[], timeoutMs = 120_000) {
  return run(PODMAN, args, { timeoutMs });
}

async function podmanText(args: string[]): Promise<string> {
  return (await podman(args)).stdout.toString('utf8').trim();
}

/** GET on loopback, with the Accept a pulling client sends; undefined while nothing answers. */
async function status(url: string): Promise<number | undefined> {
  try {
    const res = await request(url, { headers: { accept: CLIENT_ACCEPT } });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return undefined;
  }
}

/** A container of the image on the host's network (loopback only), started with `podman run -d`. */
async function runContainer(name: string, options: string[], args: string[] = []): Promise<void> {
  await podman(['run', '-d', '--name', name, ...options, TAG, ...args]);
}

let work: string;
let upstream: UpstreamRegistry;
let image: PushedImage;
let port: number;
const main = `${RUN}-main`;
const volume = `${RUN}-data`;

beforeAll(async () => {
  const started = Date.now();
  const built = await run('bash', [join(REPO, 'scripts', 'build-image.sh'), TAG], { timeoutMs: 20 * 60_000 });
  console.log(`${built.stdout.toString('utf8').trim()}\nbuild-image.sh took ${((Date.now() - started) / 1000).toFixed(1)} s`);

  work = await makeTempDir('image');
  upstream = await UpstreamRegistry.create();
  const local = await buildImage({ layoutDir: join(work, 'layout'), tag: '1', layerSizes: [2 * MiB, 64 * KiB] });
  image = await pushImage(local, { host: upstream.host, repository: 'library/app' });

  port = await freePort();
  await runContainer(main, [
    '--network',
    'host',
    '-v',
    `${volume}:/var/lib/pullthrough`,
    '-e',
    `PULLTHROUGH_LISTEN=127.0.0.1:${port}`,
    '-e',
    `PULLTHROUGH_UPSTREAM=${upstream.url}`,
  ]);
  await until('the container to answer /healthz', async () => (await status(`http://127.0.0.1:${port}/healthz`)) === 200, 60_000);
}, 25 * 60_000);

afterAll(async () => {
  const names = (await podmanText(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(RUN));
  if (names.length > 0) await podman(['rm', '-f', '-t', '0', ...names]).catch(() => undefined);
  const volumes = (await podmanText(['volume', 'ls', '--format', '{{.Name}}'])).split('\n').filter((n) => n.startsWith(RUN));
  if (volumes.length > 0) await podman(['volume', 'rm', '-f', ...volumes]).catch(() => undefined);
  await (upstream as UpstreamRegistry | undefined)?.dispose(); // unset if beforeAll failed before it
  if (work) await removeDir(work);
}, 120_000);

describe('the image', () => {
  test('holds production dependencies only, no compiler; its size', async () => {
    const size = Number(await podmanText(['image', 'inspect', '--format', '{{.Size}}', TAG]));
    const base = Number(await podmanText(['image', 'inspect', '--format', '{{.Size}}', 'docker.io/library/node:22-bookworm-slim']));
    console.log(
      `image ${TAG}: ${(size / 1e6).toFixed(1)} MB (base node:22-bookworm-slim ${(base / 1e6).toFixed(1)} MB, the app ${((size - base) / 1e6).toFixed(1)} MB)`,
    );
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const names = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)];
    // Which of the package's dependencies are installed, and whether any compiler is on PATH.
    const script = `cd /app && for d in ${names.join(' ')}; do [ -e "node_modules/$d" ] && echo "$d"; done; command -v cc gcc g++ tsc || true`;
    const found = (await podmanText(['run', '--rm', '--entrypoint', 'sh', TAG, '-c', script])).split('\n');
    expect(found.filter((f) => f.startsWith('/'))).toEqual([]);
    expect(found.filter((f) => !f.startsWith('/')).sort()).toEqual(Object.keys(pkg.dependencies).sort());
  }, 120_000);

  test('a pull through the running container with skopeo: the upstream image, byte for byte', async () => {
    const dest = join(work, 'pulled');
    await skopeoCopy(`docker://127.0.0.1:${port}/library/app:1`, `dir:${dest}`);
    const manifest = await readFile(join(dest, 'manifest.json'));
    expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(image.manifestDigest);
    for (const layer of image.layerDigests) expect(existsSync(join(dest, layer.slice('sha256:'.length)))).toBe(true);
    const catalog = await request(`http://127.0.0.1:${port}/v2/_catalog`);
    expect(await catalog.body.json()).toEqual({ repositories: ['library/app'] });
    console.log(
      `skopeo copy docker://127.0.0.1:${port}/library/app:1 dir:… → manifest ${image.manifestDigest}, ${image.layerDigests.length} layers, through the container`,
    );
  }, 300_000);

  test('the cached bytes are in the volume', async () => {
    await skopeoCopy(`docker://127.0.0.1:${port}/library/app:1`, `dir:${join(work, 'again')}`);
    const mount = await podmanText(['volume', 'inspect', '--format', '{{.Mountpoint}}', volume]);
    for (const digest of [image.configDigest, ...image.layerDigests]) {
      const hex = digest.slice('sha256:'.length);
      expect(existsSync(join(mount, 'blobs', 'sha256', hex.slice(0, 2), hex))).toBe(true);
    }
  }, 300_000);

  test('the HEALTHCHECK is in the image and passes', async () => {
    const check = JSON.parse(await podmanText(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', TAG])) as { Test: string[] };
    expect(check.Test.join(' ')).toContain('/healthz');
    await podman(['healthcheck', 'run', main]);
    expect(await podmanText(['inspect', '--format', '{{.State.Health.Status}}', main])).toBe('healthy');
  }, 60_000);

  test('the server runs as the non-root user node (uid 1000)', async () => {
    const proc1 = await podmanText(['exec', main, 'cat', '/proc/1/status']);
    expect(proc1).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(proc1).toMatch(/^Name:\s+node$/m);
  }, 60_000);

  test('config by a mounted file: serve --config, the startup line names it', async () => {
    const other = await freePort();
    const config = join(work, 'config.yaml');
    await writeFile(
      config,
      [
        `listen: "127.0.0.1:${other}"`,
        'storage: { driver: filesystem, filesystem: { root: /var/lib/pullthrough } }',
        `upstreams: [{ name: docker.io, url: "${upstream.url}" }]`,
        'log: { level: debug }',
        '',
      ].join('\n'),
    );
    const name = `${RUN}-file`;
    await runContainer(
      name,
      ['--network', 'host', '-v', `${RUN}-file-data:/var/lib/pullthrough`, '-v', `${config}:/etc/pullthrough/config.yaml:ro`],
      ['serve', '--config', '/etc/pullthrough/config.yaml'],
    );
    await until('the file-configured container', async () => (await status(`http://127.0.0.1:${other}/healthz`)) === 200, 60_000);
    expect(await status(`http://127.0.0.1:${other}/v2/library/app/manifests/1`)).toBe(200);
    const logs = await podmanText(['logs', name]);
    const startLine = logs
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'pullthrough listening');
    expect(startLine).toMatchObject({ config: '/etc/pullthrough/config.yaml', listen: `127.0.0.1:${other}`, environment: {} });
  }, 120_000);

  test("the README's one-liner shape: a published port, a named volume, no other setting", async () => {
    const published = await freePort();
    const name = `${RUN}-readme`;
    // As in the README, but bound to loopback on a free port instead of every address's 5000.
    await runContainer(name, ['-p', `127.0.0.1:${published}:5000`, '-v', `${RUN}-readme-data:/var/lib/pullthrough`]);
    await until('the published port', async () => (await status(`http://127.0.0.1:${published}/healthz`)) === 200, 60_000);
    await podman(['healthcheck', 'run', name]);
  }, 120_000);

  test('SIGTERM: the server shuts down by itself and exits 0', async () => {
    const signalled = Date.now();
    await podman(['kill', '--signal', 'TERM', main]);
    // Bounded: podman wait returns when the process has exited; a hang fails the test here.
    const code = await podmanText(['wait', main]);
    console.log(`SIGTERM → container exited ${code} after ${Date.now() - signalled} ms`);
    expect(code).toBe('0');
    expect(await podmanText(['logs', main])).toContain('"msg":"shutting down"');
  }, 60_000);
});

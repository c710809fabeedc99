import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { captureLog } from '../observability/capture-log.js';
import { auditStorage, blobFile, download, expectNothingWrongStored } from './fault-kit.js';
import { faultyStorage, type StorageFaults } from './faulty-storage.js';

const MiB = 1024 * 1024;

// A real full disk: a 4 MiB tmpfs. Needs CAP_SYS_ADMIN (root in the CI container); elsewhere the
// injected-ENOSPC test below covers the same path through the driver.
const mountPoint = mkdtempSync(join(tmpdir(), 'pt-tmpfs-'));
let mountError: string | undefined;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
} catch (err) {
  mountError = String((err as { stderr?: Buffer }).stderr ?? err).trim();
  console.warn(`skipping the tmpfs disk-full test: cannot mount a tmpfs at ${mountPoint} (${mountError}); the injected ENOSPC test still runs`);
}
afterAll(() => {
  if (!mountError) execFileSync('umount', [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Writes zeros until the filesystem refuses: ENOSPC from then on. */
async function fillDisk(file: string): Promise<void> {
  const handle = await open(file, 'w');
  const zeros = Buffer.alloc(64 * 1024);
  try {
    for (;;) await handle.write(zeros);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close();
  }
}

interface ReadyBody {
  status: string;
  checks: { name: string; ok: boolean; error?: string }[];
}
async function storageCheck(m: MirrorUnderTest): Promise<{ status: number; ok: boolean; error?: string }> {
  const res = await m.get('/readyz');
  const body = json(res.body) as ReadyBody;
  const check = body.checks.find((c) => c.name === 'storage')!;
  return { status: res.status, ok: check.ok, error: check.error };
}

/** A whole pull, as docker does it: manifest by tag, then config and layers; every byte checked. */
async function pull(m: MirrorUnderTest, repo: string, image: { manifest: Buffer; config: string; layers: string[] }, layers: Buffer[]): Promise<void> {
  const manifest = await m.get(`/v2/${repo}/manifests/1`);
  expect([repo, manifest.status]).toEqual([repo, 200]);
  expect(manifest.body.equals(image.manifest)).toBe(true);
  expect((await download(`${m.url}/v2/${repo}/blobs/${image.config}`)).status).toBe(200);
  for (const [i, digest] of image.layers.entries()) {
    const got = await download(`${m.url}/v2/${repo}/blobs/${digest}`);
    expect(got.status).toBe(200);
    expect(got.bytes?.equals(layers[i]!)).toBe(true);
  }
}

/**
 * Leader and one joiner on a slow cold blob while storage fails: both get every verified byte,
 * passed through from memory (the joiner's early bytes read back from the temp while it lasts).
 */
async function leaderAndJoiner(m: MirrorUnderTest, repo: string, digest: string, layer: Buffer): Promise<void> {
  m.hub.fault({ kind: 'slow', digest, chunkBytes: 256 * 1024, delayMs: 5, times: 1 });
  const url = `${m.url}/v2/${repo}/blobs/${digest}`;
  const leader = download(url);
  await new Promise((r) => setTimeout(r, 20));
  const joiner = await download(url);
  expect((await leader).bytes?.equals(layer)).toBe(true);
  expect(joiner.bytes?.equals(layer)).toBe(true);
}

describe('storage faults', () => {
  let m: MirrorUnderTest | undefined;
  afterEach(async () => m?.close());

  (mountError ? test.skip : test)(
    'disk full on a real 4 MiB tmpfs: pulls pass through uncached, /readyz says ENOSPC, nothing partial stays; space back → cached again',
    async () => {
      const root = join(mountPoint, 'storage');
      m = await startMirror({ root, cache: { maxSize: 'none' } });
      const small = [randomBytes(100_000)];
      const cached = m.hub.addImage('library/small', '1', { layers: small });
      await pull(m, 'library/small', cached, small);

      // A blob bigger than the disk: the write fails part-way, the bytes still reach the client.
      const big = [randomBytes(6 * MiB)];
      const bigImage = m.hub.addImage('library/big', '1', { layers: big });
      await leaderAndJoiner(m, 'library/big', bigImage.layers[0]!, big[0]!);
      await expectNothingWrongStored(m, bigImage.layers[0]!);

      await fillDisk(join(mountPoint, 'filler'));
      const full = await storageCheck(m);
      expect(full).toMatchObject({ status: 503, ok: false, error: expect.stringMatching(/^filesystem: .*no space left on device/) });
      // What is cached is still served; a new image is pulled through uncached.
      await pull(m, 'library/small', cached, small);
      const fresh = [randomBytes(200_000)];
      const freshImage = m.hub.addImage('library/fresh', '1', { layers: fresh });
      await pull(m, 'library/fresh', freshImage, fresh);
      await expectNothingWrongStored(m, freshImage.layers[0]!, freshImage.digest);

      await rm(join(mountPoint, 'filler'));
      expect((await storageCheck(m)).ok).toBe(true);
      m.hub.resetCounts();
      await pull(m, 'library/fresh', freshImage, fresh);
      const audit = await expectNothingWrongStored(m);
      expect(audit.files).toContain(blobFile(freshImage.layers[0]!));
    },
  );

  test('disk full, injected ENOSPC at the driver: the same outcomes without a mount', async () => {
    const faults: StorageFaults = { freeBytes: 1 * MiB };
    m = await startMirror({ cache: { maxSize: 'none' }, wrapStorage: faultyStorage(faults) });
    const big = [randomBytes(2 * MiB)];
    const bigImage = m.hub.addImage('library/big', '1', { layers: big });
    await leaderAndJoiner(m, 'library/big', bigImage.layers[0]!, big[0]!);
    await expectNothingWrongStored(m, bigImage.layers[0]!);
    expect(faults.freeBytes).toBe(1 * MiB); // the aborted temp gave its space back

    faults.freeBytes = 0;
    expect(await storageCheck(m)).toMatchObject({ status: 503, ok: false, error: expect.stringMatching(/no space left on device/) });
    const layers = [randomBytes(150_000)];
    const image = m.hub.addImage('library/through', '1', { layers });
    await pull(m, 'library/through', image, layers);
    expect(await m.files()).toEqual([]);

    faults.freeBytes = Infinity;
    await pull(m, 'library/through', image, layers);
    expect((await expectNothingWrongStored(m)).files).toContain(blobFile(image.layers[0]!));
  });

  test('permission denied (injected EACCES): pulls pass through, /readyz and the log carry the OS text, nothing stored', async () => {
    const faults: StorageFaults = { freeBytes: Infinity, denyWrites: 'EACCES' };
    const captured = captureLog('warn');
    m = await startMirror({ wrapStorage: faultyStorage(faults), log: captured.log });
    const layers = [randomBytes(120_000)];
    const image = m.hub.addImage('library/denied', '1', { layers });
    await pull(m, 'library/denied', image, layers);
    expect(await storageCheck(m)).toMatchObject({ status: 503, ok: false, error: expect.stringMatching(/permission denied/) });
    expect(await m.files()).toEqual([]);
    const stored = captured.lines.filter((l) => l.msg === 'cannot store blob; passing it through uncached');
    expect(stored[0]?.err).toMatch(/^filesystem: writer: open \S+: permission denied$/);

    faults.denyWrites = undefined;
    await pull(m, 'library/denied', image, layers);
    expect((await expectNothingWrongStored(m)).files).toContain(blobFile(image.layers[0]!));
  });

  test('a file where the blobs directory must be: pulls pass through, /readyz says "not a directory", no partial object; fixed → cached', async () => {
    m = await startMirror();
    await writeFile(join(m.root, 'blobs'), 'not a directory');
    const layers = [randomBytes(300_000)];
    const image = m.hub.addImage('library/blocked', '1', { layers });
    await pull(m, 'library/blocked', image, layers);
    expect(await storageCheck(m)).toMatchObject({ status: 503, ok: false, error: expect.stringMatching(/blobs: not a directory/) });
    const audit = await auditStorage(m.root);
    expect({ temps: audit.temps, corrupt: audit.corrupt }).toEqual({ temps: [], corrupt: [] });
    expect(audit.files.filter((f) => f.startsWith('blobs/'))).toEqual([]);

    await rm(join(m.root, 'blobs'));
    expect((await storageCheck(m)).ok).toBe(true);
    await pull(m, 'library/blocked', image, layers);
    expect((await expectNothingWrongStored(m)).files).toContain(blobFile(image.layers[0]!));
  });

  test('the storage directory removed under a running server: refetched, verified and cached again; no crash', async () => {
    m = await startMirror();
    const layers = [randomBytes(250_000)];
    const image = m.hub.addImage('library/gone', '1', { layers });
    await pull(m, 'library/gone', image, layers);
    // Commits follow the responses; removing the tree under one would race rm itself.
    await m.server.mirror.blobs.settled();
    await rm(m.root, { recursive: true, force: true });

    m.hub.resetCounts();
    await pull(m, 'library/gone', image, layers);
    // The blobs are fetched again and verified (the manifest may come from memory) and stored anew.
    expect(m.hub.count({ role: 'cdn', status: 200 })).toBe(2);
    const audit = await expectNothingWrongStored(m);
    expect(audit.files).toEqual(expect.arrayContaining([blobFile(image.layers[0]!), blobFile(image.config)]));
    expect((await storageCheck(m)).ok).toBe(true);
  });

  test('the storage directory replaced by a file: pulls pass through, /readyz fails with the OS text; restored → cached again', async () => {
    m = await startMirror();
    const layers = [randomBytes(250_000)];
    const image = m.hub.addImage('library/swapped', '1', { layers });
    await rm(m.root, { recursive: true, force: true });
    await writeFile(m.root, 'a file, not a directory');
    await pull(m, 'library/swapped', image, layers);
    expect(await storageCheck(m)).toMatchObject({ status: 503, ok: false, error: expect.stringMatching(/not a directory/) });
    expect((await m.get('/healthz')).status).toBe(200);

    await rm(m.root);
    await mkdir(m.root);
    await pull(m, 'library/swapped', image, layers);
    expect((await expectNothingWrongStored(m)).files).toContain(blobFile(image.layers[0]!));
  });
});

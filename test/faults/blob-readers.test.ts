import { randomBytes, createHash } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { blobFile, download, expectNothingWrongStored, failed, herd, partialGet, until } from './fault-kit.js';

// The blob path's promises (#12): one upstream fetch per digest that no client paces, every client
// at its own speed, and nothing left behind by any client, fast, slow, gone or failed.

const MiB = 1024 * 1024;

/** Open descriptors of this process on files under `root` (temps count even once unlinked). */
async function descriptorsUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(root)) out.push(target);
  }
  return out;
}

/** Everything a finished fetch must have let go: readers, wake-ups, pins, descriptors, temps. */
async function expectNothingLeft(m: MirrorUnderTest, digest: string): Promise<void> {
  await m.server.mirror.blobs.settled();
  await until('readers to detach', () => m.server.mirror.blobs.readers.attached === 0);
  expect(m.server.mirror.blobs.readers).toEqual({ attached: 0, waiting: 0 });
  if (m.server.mirror.usage) await until(`${digest} unpinned`, () => !m.server.mirror.usage!.isPinned(digest));
  expect(await until('descriptors to close', async () => ((await descriptorsUnder(m.root)).length === 0 ? [] : false))).toEqual([]);
  await expectNothingWrongStored(m);
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('blob readers: one fetch, every client at its own pace', () => {
  let m: MirrorUnderTest | undefined;
  let warnings: Error[];
  const onWarning = (w: Error) => warnings.push(w);
  beforeEach(() => {
    warnings = [];
    process.on('warning', onWarning);
  });
  afterEach(async () => {
    process.off('warning', onWarning);
    await m?.close();
  });

  test('a chunked upstream body (no Content-Length) is served chunked to the leader and joiners, stored, then served with its length', async () => {
    m = await startMirror();
    const layer = randomBytes(3 * MiB + 7);
    const image = m.hub.addImage('library/chunked', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault({ kind: 'chunked', digest, times: 1 });
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 256 * 1024, delayMs: 5, times: 1 });
    const url = `${m.url}/v2/library/chunked/blobs/${digest}`;

    const cold = await herd(5, url);
    for (const d of cold) {
      expect([d.status, d.error]).toEqual([200, undefined]);
      expect(d.headers['content-length']).toBeUndefined();
      expect(d.headers['transfer-encoding']).toBe('chunked');
      expect(d.bytes!.equals(layer)).toBe(true);
    }
    expect(m.hub.count({ role: 'cdn', digest })).toBe(1);
    await expectNothingLeft(m, digest);
    expect(await m.files()).toContain(blobFile(digest));

    const warm = await download(url);
    expect(warm.headers['content-length']).toBe(String(layer.length));
    expect(warm.bytes!.equals(layer)).toBe(true);
  });

  test('a Range request on a cold chunked blob waits for its size, then gets 206', async () => {
    m = await startMirror();
    const layer = randomBytes(MiB);
    const image = m.hub.addImage('library/chunked', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault({ kind: 'chunked', digest, times: 1 });
    const res = await download(`${m.url}/v2/library/chunked/blobs/${digest}`, { Range: 'bytes=10-19' });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 10-19/${layer.length}`);
    expect(res.bytes!.equals(layer.subarray(10, 20))).toBe(true);
    await expectNothingLeft(m, digest);
  });

  test('1,000 joiners that hang up mid-stream leave nothing behind; the leader gets every byte and the blob is stored', async () => {
    m = await startMirror({ cache: { maxSize: '1GiB' } });
    const layer = randomBytes(3 * MiB);
    const image = m.hub.addImage('library/herd', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    // 15 s of transfer or more: every joiner comes and goes while the fetch runs (1,000 connections take ~6 s here).
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 4 * 1024, delayMs: 20, times: 1 });
    const url = `${m.url}/v2/library/herd/blobs/${digest}`;

    const leader = download(url);
    await until('the fetch to start', () => m!.server.mirror.blobs.inflight === 1);
    const gone = await Promise.all(Array.from({ length: 1000 }, () => partialGet(url, 1, (req) => req.destroy())));
    expect(gone.every((n) => n > 0)).toBe(true);
    // They are gone while the transfer still runs: only the leader reads.
    await until('joiners to detach', () => m!.server.mirror.blobs.readers.attached === 1);
    expect(m.server.mirror.blobs.inflight).toBe(1);

    const led = await leader;
    expect(led.bytes!.equals(layer)).toBe(true);
    expect(m.hub.count({ role: 'cdn', digest })).toBe(1);
    await expectNothingLeft(m, digest);
    expect(await m.files()).toContain(blobFile(digest));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  }, 60_000);

  test('50 clients of a stored blob that hang up mid-body leave no descriptor and no pin; a whole download after is right', async () => {
    m = await startMirror({ cache: { maxSize: '1GiB' } });
    // Larger than loopback's socket buffers: the send is still running when each client leaves.
    const layer = randomBytes(24 * MiB);
    const image = m.hub.addImage('library/warm-gone', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    const url = `${m.url}/v2/library/warm-gone/blobs/${digest}`;
    expect((await download(url)).bytes!.equals(layer)).toBe(true);
    await m.server.mirror.blobs.settled();

    const gone = await Promise.all(Array.from({ length: 50 }, () => partialGet(url, 1, (req) => req.destroy())));
    expect(gone.every((n) => n > 0 && n < layer.length)).toBe(true);
    await expectNothingLeft(m, digest);
    expect((await download(url)).bytes!.equals(layer)).toBe(true);
    expect(m.hub.count({ role: 'cdn', digest })).toBe(1);
  }, 60_000);

  test('a leader that stops reading but keeps its connection stalls nobody: the others finish and the blob is stored', async () => {
    m = await startMirror({ cache: { maxSize: '1GiB' } });
    // Far more than socket buffers hold, so the stalled leader really stops taking bytes.
    const layer = randomBytes(48 * MiB);
    const image = m.hub.addImage('library/stall', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    const url = `${m.url}/v2/library/stall/blobs/${digest}`;

    let stalled!: IncomingMessage;
    let hangUp!: () => void;
    await partialGet(url, 1, (req, res) => {
      res.pause();
      stalled = res;
      hangUp = () => req.destroy();
    });
    const others = await herd(5, url);
    for (const d of others) expect(sha256(d.bytes!)).toBe(digest);
    await until('the blob to be stored', async () => (await m!.server.mirror.storage.stat(blobFile(digest))) !== undefined);
    expect(stalled.readableFlowing).toBe(false);
    expect(m.hub.count({ role: 'cdn', digest })).toBe(1);

    hangUp();
    await expectNothingLeft(m, digest);
  }, 60_000);

  test('wrong bytes seen by 20 concurrent readers: all 20 fail, nothing is stored or left, the next request refetches', async () => {
    m = await startMirror({ cache: { maxSize: '1GiB' } });
    const layer = randomBytes(2 * MiB);
    const image = m.hub.addImage('library/bad', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault({ kind: 'wrongBytes', digest, times: 1 });
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 128 * 1024, delayMs: 5, times: 1 });
    const got = await herd(20, `${m.url}/v2/library/bad/blobs/${digest}`);
    expect(got.filter((d) => !failed(d))).toEqual([]);
    expect(m.hub.count({ role: 'cdn', digest })).toBe(1);
    await expectNothingLeft(m, digest);
    expect(await m.files()).not.toContain(blobFile(digest));

    const again = await download(`${m.url}/v2/library/bad/blobs/${digest}`);
    expect(again.bytes!.equals(layer)).toBe(true);
  }, 30_000);

  test('a joiner gets its headers and first bytes while the upstream is still sending, before anything is stored', async () => {
    m = await startMirror();
    const layer = randomBytes(4 * MiB);
    const image = m.hub.addImage('library/early', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 64 * 1024, delayMs: 20, times: 1 });
    const url = `${m.url}/v2/library/early/blobs/${digest}`;
    const leader = download(url);
    await until('the fetch to start', () => m!.server.mirror.blobs.inflight === 1);
    let early = false;
    await partialGet(url, 64 * 1024, (req) => {
      early = m!.server.mirror.blobs.inflight === 1;
      req.destroy();
    });
    expect(early).toBe(true);
    expect(await m.server.mirror.storage.stat(blobFile(digest))).toBeUndefined();
    expect((await leader).bytes!.equals(layer)).toBe(true);
    await expectNothingLeft(m, digest);
  }, 30_000);
});

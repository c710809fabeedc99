import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { json, startMirror, type MirrorUnderTest } from './mirror-harness.js';

const storedBlobs = (files: string[]) => files.filter((f) => f.startsWith('blobs/') || f.startsWith('_tmp/'));

/** Reads a response to the end; resolves with the bytes, or with the error if the stream broke. */
async function download(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes?: Buffer; error?: unknown }> {
  try {
    const res = await request(url, { headers });
    return { status: res.statusCode, bytes: Buffer.from(await res.body.arrayBuffer()) };
  } catch (error) {
    return { status: 0, error };
  }
}

describe('blobs through the mirror', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('a cold blob follows the 307 to the CDN without Authorization, streams, and is stored', async () => {
    m = await startMirror();
    const layer = randomBytes(3 * 1024 * 1024 + 17);
    const image = m.hub.addImage('library/app', '1', { layers: [layer] });
    const res = await download(`${m.url}/v2/library/app/blobs/${image.layers[0]}`);
    expect(res.status).toBe(200);
    expect(res.bytes?.equals(layer)).toBe(true);
    expect(m.hub.count({ role: 'cdn', status: 200 })).toBe(1);
    expect(m.hub.requests.filter((r) => r.role === 'cdn').every((r) => r.authorization === undefined)).toBe(true);
    expect(storedBlobs(await m.files())).toHaveLength(1);

    m.hub.resetCounts();
    await m.hub.stop();
    const warm = await download(`${m.url}/v2/library/app/blobs/${image.layers[0]}`);
    expect(warm.bytes?.equals(layer)).toBe(true);
    expect(m.hub.requests).toEqual([]);
  });

  test('20 concurrent cold requests for one blob make exactly 1 upstream blob GET', async () => {
    m = await startMirror();
    const layer = randomBytes(2 * 1024 * 1024);
    const image = m.hub.addImage('library/herd', '1', { layers: [layer] });
    m.hub.fault({ kind: 'slow', digest: image.layers[0]!, chunkBytes: 256 * 1024, delayMs: 20 });
    const results = await Promise.all(Array.from({ length: 20 }, () => download(`${m.url}/v2/library/herd/blobs/${image.layers[0]}`)));
    expect(results.every((r) => r.status === 200 && r.bytes?.equals(layer))).toBe(true);
    expect(m.hub.count({ kind: 'blob', method: 'GET', status: 307 })).toBe(1);
    expect(m.hub.count({ role: 'cdn' })).toBe(1);
  });

  test('a client whose storage lookup was answered before a running fetch committed joins the stored blob, not a second fetch', async () => {
    // S3's HEAD takes milliseconds: a fetch can commit and end while one is in flight.
    let held: { entered: () => void; gate: Promise<void> } | undefined;
    let release!: () => void;
    const entered = new Promise<void>((resolve) => {
      held = { entered: resolve, gate: new Promise((r) => (release = r)) };
    });
    m = await startMirror({
      wrapStorage: (driver) =>
        Object.assign(Object.create(driver) as typeof driver, {
          async stat(key: string) {
            const answer = await driver.stat(key); // as of now: before the other client's fetch
            const hold = key.startsWith('blobs/') ? held : undefined;
            held = undefined;
            if (hold) {
              hold.entered();
              await hold.gate;
            }
            return answer;
          },
        }),
    });
    const layer = randomBytes(200_000);
    const image = m.hub.addImage('library/late', '1', { layers: [layer] });
    const url = `${m.url}/v2/library/late/blobs/${image.layers[0]}`;
    const late = download(url); // its lookup says "not stored" and is held
    await entered;
    const first = await download(url); // fetches, commits, ends
    await m.server.mirror.blobs.settled();
    release();
    for (const r of [first, await late]) expect(r.bytes?.equals(layer)).toBe(true);
    expect(m.hub.count({ role: 'cdn' })).toBe(1);
  });

  test('wrong bytes for a digest: the client connection is aborted and nothing is stored', async () => {
    m = await startMirror();
    const image = m.hub.addImage('library/bad', '1', { layers: [randomBytes(500_000)] });
    m.hub.fault({ kind: 'wrongBytes', digest: image.layers[0]!, times: 1 });
    const res = await download(`${m.url}/v2/library/bad/blobs/${image.layers[0]}`);
    expect(res.error).toBeDefined();
    expect(storedBlobs(await m.files())).toEqual([]);
    // The next request retries cleanly and gets the right bytes.
    const again = await download(`${m.url}/v2/library/bad/blobs/${image.layers[0]}`);
    expect(again.status).toBe(200);
    expect(storedBlobs(await m.files())).toHaveLength(1);
  });

  test('an upstream stream cut mid-blob: client aborted, joiners get the error, nothing stored', async () => {
    m = await startMirror();
    const image = m.hub.addImage('library/cut', '1', { layers: [randomBytes(1_000_000)] });
    m.hub.fault({ kind: 'cut', digest: image.layers[0]!, afterBytes: 300_000, times: 1 });
    const results = await Promise.all([1, 2, 3].map(() => download(`${m.url}/v2/library/cut/blobs/${image.layers[0]}`)));
    for (const r of results) expect(r.error !== undefined || r.status >= 500).toBe(true);
    expect(storedBlobs(await m.files())).toEqual([]);
  });

  test('Range: 206 with Content-Range on cached and cold blobs, 416 past the end and for multi-range', async () => {
    m = await startMirror();
    const layer = randomBytes(100_000);
    const image = m.hub.addImage('library/r', '1', { layers: [layer] });
    const url = `${m.url}/v2/library/r/blobs/${image.layers[0]}`;
    const cold = await m.get(url.slice(m.url.length), { range: 'bytes=10-19' });
    expect(cold.status).toBe(206);
    expect(cold.headers['content-range']).toBe(`bytes 10-19/${layer.length}`);
    expect(cold.body.equals(layer.subarray(10, 20))).toBe(true);
    const suffix = await m.get(url.slice(m.url.length), { range: 'bytes=-5' });
    expect(suffix.body.equals(layer.subarray(-5))).toBe(true);
    for (const range of [`bytes=${layer.length}-`, 'bytes=0-1,5-6', 'bytes=x-y']) {
      const res = await m.get(url.slice(m.url.length), { range });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${layer.length}`);
      expect(json(res.body).errors[0].code).toBe('RANGE_INVALID');
    }
  });

  test('HEAD of a cold blob answers from an upstream HEAD and fetches nothing', async () => {
    m = await startMirror();
    const layer = randomBytes(1234);
    const image = m.hub.addImage('library/h', '1', { layers: [layer] });
    const res = await fetch(`${m.url}/v2/library/h/blobs/${image.layers[0]}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(layer.length));
    expect(res.headers.get('docker-content-digest')).toBe(image.layers[0]);
    expect(m.hub.count({ role: 'cdn' })).toBe(0);
    expect(storedBlobs(await m.files())).toEqual([]);
  });

  test('a client that hangs up mid-download does not stop the fetch: the blob is stored for the next one', async () => {
    m = await startMirror();
    const layer = randomBytes(2 * 1024 * 1024);
    const image = m.hub.addImage('library/gone', '1', { layers: [layer] });
    m.hub.fault({ kind: 'slow', digest: image.layers[0]!, chunkBytes: 128 * 1024, delayMs: 10 });
    const controller = new AbortController();
    const res = await request(`${m.url}/v2/library/gone/blobs/${image.layers[0]}`, { signal: controller.signal });
    for await (const _ of res.body) {
      controller.abort();
      break;
    }
    for (let i = 0; i < 100 && storedBlobs(await m.files()).filter((f) => f.startsWith('blobs/')).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    m.hub.resetCounts();
    const again = await download(`${m.url}/v2/library/gone/blobs/${image.layers[0]}`);
    expect(again.bytes?.equals(layer)).toBe(true);
    expect(m.hub.count({ kind: 'blob' })).toBe(0);
  });

  test('an unknown blob is BLOB_UNKNOWN; a bad digest is DIGEST_INVALID', async () => {
    m = await startMirror();
    m.hub.addImage('library/x', '1'); // a repository the Hub has, without this blob
    const unknown = await m.get(`/v2/library/x/blobs/sha256:${'a'.repeat(64)}`);
    expect(unknown.status).toBe(404);
    expect(json(unknown.body).errors[0].code).toBe('BLOB_UNKNOWN');
    const bad = await m.get('/v2/library/x/blobs/sha256:xyz');
    expect(bad.status).toBe(400);
    expect(json(bad.body).errors[0].code).toBe('DIGEST_INVALID');
    const algo = await m.get(`/v2/library/x/blobs/md5:${'a'.repeat(32)}`);
    expect([algo.status, json(algo.body).errors[0].code]).toEqual([404, 'BLOB_UNKNOWN']);
  });
});

// FileBytes: a stored file's bytes as a Readable, and sent by sendTo() through a few reused
// buffers into a real socket, whole or one range, with a slow reader, a reader that hangs up, and
// a file cut short under a range. The handle is closed ('close' fires) whatever happens.
import { randomBytes } from 'node:crypto';
import { open, truncate, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileBytes } from '../../src/storage/file-bytes.js';
import { makeTempDir, removeDir } from '../e2e/harness/tmp.js';

const MiB = 1024 * 1024;
let dir: string;
let file: string;
const content = randomBytes(5 * MiB + 12345);

beforeAll(async () => {
  dir = await makeTempDir('file-bytes');
  file = join(dir, 'blob');
  await writeFile(file, content);
});
afterAll(() => removeDir(dir));

/** A server whose one handler sends `bytes()` with sendTo(); `outcomes` collects how each ended. */
async function sendingServer(
  bytes: () => Promise<FileBytes>,
): Promise<{ url: string; server: Server; outcomes: Promise<{ closed: boolean; error?: string; sent: number }>[] }> {
  const outcomes: Promise<{ closed: boolean; error?: string; sent: number }>[] = [];
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    outcomes.push(
      bytes().then(async (stream) => {
        let error: string | undefined;
        stream.on('error', (err) => (error = err.message));
        const closed = new Promise<boolean>((resolve) => stream.once('close', () => resolve(true)));
        let sent = 0;
        await stream.sendTo(res, (n) => (sent += n));
        return { closed: await closed, error, sent };
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, outcomes };
}

/** The whole body, read at `delayMs` per chunk; or, with `stopAfter`, hangs up after that many bytes. */
function fetchBody(url: string, opts: { delayMs?: number; stopAfter?: number } = {}): Promise<{ body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        total += chunk.length;
        if (opts.stopAfter !== undefined && total >= opts.stopAfter) {
          req.destroy();
          resolve({ body: Buffer.concat(chunks), complete: false });
        } else if (opts.delayMs) {
          res.pause();
          setTimeout(() => res.resume(), opts.delayMs);
        }
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', () => resolve({ body: Buffer.concat(chunks), complete: false }));
    });
    req.on('error', (err) => (opts.stopAfter === undefined ? resolve({ body: Buffer.alloc(0), complete: false }) : reject(err)));
    req.end();
  });
}

test('as a Readable: the whole file, and one inclusive range', async () => {
  const whole: Buffer[] = [];
  for await (const chunk of new FileBytes(await open(file))) whole.push(chunk as Buffer);
  expect(Buffer.concat(whole).equals(content)).toBe(true);
  const part: Buffer[] = [];
  for await (const chunk of new FileBytes(await open(file), { start: 100, end: 2 * MiB + 7 })) part.push(chunk as Buffer);
  expect(Buffer.concat(part).equals(content.subarray(100, 2 * MiB + 8))).toBe(true);
});

test('sendTo: every byte in order to a fast and to a slow reader, whole and ranged; the handle closed after', async () => {
  const ranges = [undefined, { start: 0, end: 0 }, { start: MiB - 1, end: 3 * MiB }, { start: content.length - 10, end: content.length - 1 }];
  for (const range of ranges) {
    const { url, server, outcomes } = await sendingServer(async () => new FileBytes(await open(file), range));
    try {
      const expected = range ? content.subarray(range.start, range.end + 1) : content;
      const fast = await fetchBody(url);
      const slow = await fetchBody(url, { delayMs: 2 });
      for (const got of [fast, slow]) {
        expect(got.complete).toBe(true);
        expect(got.body.equals(expected)).toBe(true);
      }
      for (const outcome of await Promise.all(outcomes)) expect(outcome).toEqual({ closed: true, error: undefined, sent: expected.length });
    } finally {
      server.close();
    }
  }
});

test('sendTo: a reader slower than the disk gets every byte: a buffer is read into again only once the socket wrote it', async () => {
  // Bigger than what loopback's socket buffers hold, so writes queue and keep their buffers.
  const big = Buffer.concat(Array.from({ length: 6 }, () => randomBytes(4 * MiB)));
  const path = join(dir, 'big');
  await writeFile(path, big);
  const { url, server, outcomes } = await sendingServer(async () => new FileBytes(await open(path)));
  try {
    const got = await fetchBody(url, { delayMs: 1 });
    expect(got.complete).toBe(true);
    expect(got.body.equals(big)).toBe(true);
    await Promise.all(outcomes);
  } finally {
    server.close();
  }
});

test('sendTo: a reader that hangs up mid-body ends the send, and the handle is closed', async () => {
  const { url, server, outcomes } = await sendingServer(async () => new FileBytes(await open(file)));
  try {
    const got = await fetchBody(url, { stopAfter: MiB });
    expect(got.complete).toBe(false);
    const [outcome] = await Promise.all(outcomes);
    expect(outcome!.closed).toBe(true);
    expect(outcome!.error).toBeUndefined();
    expect(outcome!.sent).toBeLessThan(content.length);
  } finally {
    server.close();
  }
});

test('sendTo: a file cut short under a range cuts the response (a short read, never a clean end) and reports why', async () => {
  const cut = join(dir, 'cut');
  await writeFile(cut, content);
  const { url, server, outcomes } = await sendingServer(async () => {
    const stream = new FileBytes(await open(cut), { start: 0, end: content.length - 1 });
    // Truncated after the range was agreed on (as a size taken from stat() before).
    await truncate(cut, 2 * MiB);
    return stream;
  });
  try {
    const got = await fetchBody(url);
    expect(got.complete).toBe(false);
    expect(got.body.length).toBeLessThan(content.length);
    const [outcome] = await Promise.all(outcomes);
    expect(outcome!.closed).toBe(true);
    expect(outcome!.error).toMatch(/file ended at/);
  } finally {
    server.close();
  }
});

test('sendTo after the stream started flowing is refused (it would send bytes twice)', async () => {
  const stream = new FileBytes(await open(file));
  stream.on('data', () => undefined);
  await sleep(10);
  await expect(stream.sendTo(new Writable({ write: (_chunk, _encoding, done) => done() }), () => undefined)).rejects.toThrow(/already being read/);
  stream.destroy();
});

import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { blobFile, download, expectNothingWrongStored } from './fault-kit.js';

/** Clients that leave, crowd in, or dawdle. (A lone client hanging up mid-download is test/api/blobs.test.ts.) */
describe('client faults', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('the leader hangs up mid-download: joiners still get every byte and the blob is committed once', async () => {
    m = await startMirror();
    const layer = randomBytes(2 * 1024 * 1024);
    const image = m.hub.addImage('library/left', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 128 * 1024, delayMs: 10, times: 1 });
    const url = `${m.url}/v2/library/left/blobs/${digest}`;
    const controller = new AbortController();
    const leader = await request(url, { signal: controller.signal });
    const joiners = [download(url), download(url), download(url, { range: 'bytes=1000-1999' })];
    for await (const _ of leader.body) {
      controller.abort();
      break;
    }
    const [a, b, ranged] = await Promise.all(joiners);
    expect(a!.bytes?.equals(layer)).toBe(true);
    expect(b!.bytes?.equals(layer)).toBe(true);
    expect(ranged!.status).toBe(206);
    expect(ranged!.bytes?.equals(layer.subarray(1000, 2000))).toBe(true);
    expect(m.hub.count({ role: 'cdn' })).toBe(1);
    expect((await expectNothingWrongStored(m)).files).toContain(blobFile(digest));
  });

  test('1,000 concurrent connections on a cached blob: every one 200 with the right bytes', async () => {
    m = await startMirror();
    const layer = randomBytes(64 * 1024);
    const image = m.hub.addImage('library/popular', '1', { layers: [layer] });
    const url = `${m.url}/v2/library/popular/blobs/${image.layers[0]}`;
    expect((await download(url)).status).toBe(200);
    const want = createHash('sha256').update(layer).digest('hex');
    // One connection per request: the server holds 1,000 sockets at once.
    const agent = new Agent({ connections: 1000, pipelining: 0 });
    try {
      const results = await Promise.all(
        Array.from({ length: 1000 }, async () => {
          const res = await request(url, { dispatcher: agent });
          const bytes = Buffer.from(await res.body.arrayBuffer());
          return `${res.statusCode} ${createHash('sha256').update(bytes).digest('hex')}`;
        }),
      );
      const tally = new Map<string, number>();
      for (const r of results) tally.set(r, (tally.get(r) ?? 0) + 1);
      expect([...tally]).toEqual([[`200 ${want}`, 1000]]);
    } finally {
      await agent.close();
    }
    expect((await m.get('/healthz')).status).toBe(200);
  }, 30_000);

  test('slowloris: a connection that sends its headers a byte at a time is answered 408 and closed at headersTimeout', async () => {
    m = await startMirror({ config: { headersTimeout: '500ms' } });
    const port = (m.server.server.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    const headers = Buffer.from(`GET /v2/ HTTP/1.1\r\nHost: mirror\r\nX-Padding: ${'a'.repeat(200)}\r\n\r\n`);
    let sent = 0;
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    // One byte every 50 ms: the whole header would take over 12 s; the bound is 500 ms.
    const drip = setInterval(() => {
      if (socket.destroyed || sent >= headers.length) return;
      socket.write(headers.subarray(sent, sent + 1));
      sent += 1;
    }, 50);
    try {
      await closed;
    } finally {
      clearInterval(drip);
    }
    expect(sent).toBeLessThan(headers.length);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).errors[0].code).toBe('REQUEST_TIMEOUT');
    // The server itself is unaffected.
    expect((await m.get('/v2/')).status).toBe(200);
  }, 15_000);
});

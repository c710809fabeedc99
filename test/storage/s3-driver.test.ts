import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import pLimit from 'p-limit';
import { request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { withDriverBase } from '../../src/storage/base.js';
import { describeStorage } from '../../src/storage/open.js';
import { S3Driver } from '../../src/storage/s3.js';
import { RGW_START_TIMEOUT_MS, RgwGateway, pendingUploads } from './rgw.js';

const MiB = 2 ** 20;
/** For the cases that move several 5 MiB parts or thousands of requests. */
const SLOW_MS = 120_000;
let s3: RgwGateway;
beforeAll(async () => {
  s3 = await RgwGateway.start();
}, RGW_START_TIMEOUT_MS);
afterAll(async () => {
  await s3.stop();
});

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

/** Counts (and optionally holds back) the SDK commands a client sends, by name. */
function instrument(client: S3Client, hold?: Promise<void>): Map<string, number> {
  const sent = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.set(context.commandName!, (sent.get(context.commandName!) ?? 0) + 1);
      if (hold && context.commandName === 'UploadPartCommand') await hold;
      return next(args);
    },
    { step: 'initialize' },
  );
  return sent;
}

async function pendingCount(bucket: string): Promise<number> {
  const client = s3.client();
  let n = 0;
  for await (const _ of pendingUploads(client, bucket)) n += 1;
  client.destroy();
  return n;
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('s3 driver against Ceph RGW', () => {
  test(
    'a blob of several 5 MiB parts round-trips byte-exact, invisible until commit',
    async () => {
      const config = await s3.config({ partSize: '5MiB', queueSize: 2 });
      const client = s3.client();
      const sent = instrument(client);
      const d = withDriverBase(new S3Driver(config, client));
      const bytes = randomBytes(3 * 5 * MiB + 123_457);
      const w = await d.writer('blobs/big');
      // Odd chunk sizes, so parts are cut across chunk boundaries.
      for (let i = 0; i < bytes.length; i += 1_000_003) await w.write(bytes.subarray(i, i + 1_000_003));
      expect(await d.stat('blobs/big')).toBeUndefined();
      expect(await pendingCount(config.bucket)).toBe(1);
      await w.commit();
      await w.release();
      expect(sent.get('UploadPartCommand')).toBe(4);
      expect((await d.stat('blobs/big'))?.size).toBe(bytes.length);
      expect((await readAll(await d.reader('blobs/big'))).equals(bytes)).toBe(true);
      const across = { start: 5 * MiB - 10, end: 10 * MiB + 10 };
      expect((await readAll(await d.reader('blobs/big', across))).equals(bytes.subarray(across.start, across.end + 1))).toBe(true);
      expect(await pendingCount(config.bucket)).toBe(0);
      expect(await s3.allKeys(config.bucket)).toEqual(['blobs/big']);
      // A multipart object's ETag is "<md5 of the part md5s>-<parts>": the object really is the four parts.
      const head = await client.send(new HeadObjectCommand({ Bucket: config.bucket, Key: 'blobs/big' }));
      expect(head.ETag).toMatch(/^"[0-9a-f]{32}-4"$/);
      client.destroy();
    },
    SLOW_MS,
  );

  test("AWS's path (no endpoint: CRC32 declared on the upload and sent with each part) completes too", async () => {
    // The client still points at RGW, which ignores the checksum headers; this checks the requests' shape.
    const config = { ...(await s3.config({ partSize: '5MiB' })), endpoint: undefined };
    const client = s3.client();
    const d = new S3Driver(config, client);
    const bytes = randomBytes(5 * MiB + 10);
    const w = await d.writer('blobs/crc');
    await w.write(bytes);
    await w.commit();
    await w.release();
    expect((await d.get('blobs/crc'))?.equals(bytes)).toBe(true);
    client.destroy();
  });

  test(
    'abort after several parts leaves no object and no multipart upload',
    async () => {
      const config = await s3.config({ partSize: '5MiB', queueSize: 2 });
      const client = s3.client();
      const sent = instrument(client);
      const d = withDriverBase(new S3Driver(config, client));
      const w = await d.writer('blobs/aborted');
      for (let i = 0; i < 3; i++) await w.write(randomBytes(5 * MiB));
      await w.write(randomBytes(1000));
      expect(sent.get('UploadPartCommand')).toBe(3);
      expect(await pendingCount(config.bucket)).toBe(1);
      await w.abort();
      await w.abort();
      await expect(w.write(Buffer.from('x'))).rejects.toThrow(/after abort/);
      expect(sent.get('AbortMultipartUploadCommand')).toBe(1);
      expect(await pendingCount(config.bucket)).toBe(0);
      expect(await s3.allKeys(config.bucket)).toEqual([]);
      client.destroy();
    },
    SLOW_MS,
  );

  test(
    'write() holds the caller while partSize × queueSize bytes are in flight',
    async () => {
      let release!: () => void;
      const hold = new Promise<void>((resolve) => (release = resolve));
      const config = await s3.config({ partSize: '5MiB', queueSize: 2 });
      const client = s3.client();
      const sent = instrument(client, hold);
      const w = await new S3Driver(config, client).writer('blobs/slow');
      const part = 5 * MiB;
      const bytes = randomBytes(3 * part + 5);
      await w.write(bytes.subarray(0, part)); // part 1 in flight; 5 MiB held < 10 MiB
      let second = false;
      const pending = w.write(bytes.subarray(part, 2 * part)).then(() => (second = true)); // part 2: 10 MiB held
      // Both parts reach S3's door (after a real CreateMultipartUpload); neither can finish before release.
      while ((sent.get('UploadPartCommand') ?? 0) < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(second).toBe(false);
      expect(sent.get('UploadPartCommand')).toBe(2);
      release();
      await pending;
      await w.write(bytes.subarray(2 * part));
      await w.commit();
      await w.release();
      expect((await new S3Driver(config, client).get('blobs/slow'))?.equals(bytes)).toBe(true);
      client.destroy();
    },
    SLOW_MS,
  );

  test('parts under 5 MiB: RGW refuses the completion (EntityTooSmall), which is why partSize has that floor; abort cleans up', async () => {
    // Past the schema, as a config that skipped validation would be.
    const config = { ...(await s3.config()), partSize: 64 * 1024 };
    const driver = new S3Driver(config);
    const w = await driver.writer('blobs/small-parts');
    await w.write(randomBytes(3 * 64 * 1024));
    await expect(w.commit()).rejects.toThrow(/EntityTooSmall/);
    await w.abort();
    expect(await s3.allKeys(config.bucket)).toEqual([]);
    driver.client.destroy();
  });

  test('presigned URLs: none unless redirect is on; then a plain HTTP client GETs the object, ranges included; a tampered or expired URL is 403', async () => {
    expect(await new S3Driver(await s3.config()).directUrl('blobs/p')).toBeUndefined();
    const config = await s3.config({ redirect: true, redirectExpiry: '60s' });
    const driver = new S3Driver(config);
    const bytes = Buffer.from('presigned bytes');
    await driver.put('blobs/p', bytes);
    const url = (await driver.directUrl('blobs/p'))!;
    expect(url).toContain('X-Amz-Expires=60');
    // Plain undici and fetch, no SDK and no credentials: what a client following a 307 sends.
    const plain = await request(url);
    expect(plain.statusCode).toBe(200);
    expect(Buffer.from(await plain.body.arrayBuffer()).equals(bytes)).toBe(true);
    const viaFetch = await fetch(url);
    expect(await viaFetch.text()).toBe('presigned bytes');
    const first = await request(url, { headers: { range: 'bytes=0-0' } });
    expect([first.statusCode, first.headers['content-range'], await first.body.text()]).toEqual([206, `bytes 0-0/${bytes.length}`, 'p']);

    const signed = new URL(url);
    const signature = signed.searchParams.get('X-Amz-Signature')!;
    const tampered = new URL(url);
    tampered.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
    const otherKey = new URL(url.replace('/blobs/p?', '/blobs/q?'));
    for (const bad of [tampered, otherKey]) {
      const res = await request(bad);
      expect({ url: bad.pathname, status: res.statusCode, body: /<Code>(\w+)<\/Code>/.exec(await res.body.text())?.[1] }).toEqual({
        url: bad.pathname,
        status: 403,
        body: 'SignatureDoesNotMatch',
      });
    }
    // Signed 2 minutes ago for 60 s: expired.
    const expired = await getSignedUrl(driver.client, new GetObjectCommand({ Bucket: config.bucket, Key: 'blobs/p' }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 120_000),
    });
    const late = await request(expired);
    await late.body.dump();
    expect(late.statusCode).toBe(403);
    driver.client.destroy();
  });

  test(
    'sweepTemps (what gc runs) lists stale multipart uploads past one page and aborts them, and only them',
    async () => {
      const config = await s3.config({ prefix: 'mirror' });
      const client = s3.client();
      const create = (key: string) => client.send(new CreateMultipartUploadCommand({ Bucket: config.bucket, Key: key }));
      // 1,005 uploads abandoned by crashed writers: more than one ListMultipartUploads page (1,000).
      const limit = pLimit(16);
      await Promise.all(Array.from({ length: 1_005 }, (_, i) => limit(() => create(`mirror/blobs/sha256/ab/stale-${i}`))));
      // Another mirror's upload in the same bucket, outside this prefix: not ours to abort.
      await create('other/blobs/sha256/ab/theirs');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const cutoff = new Date();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      // A live writer's upload, younger than the cutoff.
      const live = await new S3Driver(config, client).writer('blobs/sha256/cd/live');
      await live.write(randomBytes(5 * MiB));
      while ((await pendingCount(config.bucket)) < 1_007) await new Promise((resolve) => setTimeout(resolve, 50));

      expect(await withDriverBase(new S3Driver(config, client)).sweepTemps(cutoff)).toBe(1_005);
      expect((await s3.allKeys(config.bucket)).map((k) => k.replace(/ \(multipart upload .+\)$/, ' (upload)'))).toEqual([
        'mirror/blobs/sha256/cd/live (upload)',
        'other/blobs/sha256/ab/theirs (upload)',
      ]);
      await live.write(randomBytes(10));
      await live.commit();
      await live.release();
      expect((await s3.allKeys(config.bucket)).map((k) => k.replace(/ \(multipart upload .+\)$/, ' (upload)'))).toEqual([
        'mirror/blobs/sha256/cd/live',
        'other/blobs/sha256/ab/theirs (upload)',
      ]);
      client.destroy();
    },
    SLOW_MS,
  );

  test('health and errors carry the real S3 error: NoSuchBucket (RGW sends no message with it)', async () => {
    const config = await s3.config({}, `missing-${randomBytes(4).toString('hex')}`);
    const driver = new S3Driver(config);
    const health = await driver.health();
    expect(health.ok).toBe(false);
    expect(health.error).toMatch(new RegExp(`^s3: PutObject s3://${config.bucket}/_health/probe-[0-9a-f-]+: NoSuchBucket \\(HTTP 404\\)$`));
    await expect(withDriverBase(driver).get('blobs/x')).rejects.toThrow(/^s3: get: NoSuchBucket \(HTTP 404\)$/);
    driver.client.destroy();
  });

  test('health says which connection failed when nothing listens', async () => {
    const port = await closedPort();
    const config = { ...(await s3.config({}, 'any-bucket')), endpoint: `http://127.0.0.1:${port}` };
    const driver = new S3Driver(config);
    // Under jest only, the SDK's retry layer wraps the socket error ("AWS SDK error wrapper for
    // Error: …") because Node's error fails `instanceof Error` in jest's sandbox realm; plain Node
    // gets the bare "connect ECONNREFUSED 127.0.0.1:<port>".
    expect(await driver.health()).toEqual({
      ok: false,
      error: expect.stringMatching(
        new RegExp(
          `^s3: PutObject s3://any-bucket/_health/probe-[0-9a-f-]+: (AWS SDK error wrapper for Error: )?connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`,
        ),
      ),
    });
    driver.client.destroy();
  });

  test('the prefix keeps every key, probes included, under its folder', async () => {
    const config = await s3.config({ prefix: '/team/mirror/' });
    const driver = new S3Driver(config);
    await driver.put('blobs/a', Buffer.from('a'));
    expect(await driver.health()).toEqual({ ok: true });
    expect(await s3.allKeys(config.bucket)).toEqual(['team/mirror/blobs/a']);
    expect(await driver.list('')).toEqual(['blobs']);
    driver.client.destroy();
  });
});

describe('s3 driver, no server', () => {
  /** A client whose every command is answered here, without a request. */
  function stubClient(answer: (command: string, input: Record<string, unknown>) => object): S3Client {
    const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'k', secretAccessKey: 's' } });
    client.middlewareStack.add(
      (_next, context) => async (args) => ({ output: { $metadata: {}, ...answer(context.commandName!, args.input as Record<string, unknown>) }, response: {} }),
      { step: 'initialize' },
    );
    return client;
  }

  const base = {
    bucket: 'b',
    region: 'us-east-1',
    forcePathStyle: true,
    prefix: '',
    queueSize: 64,
    spoolDir: tmpdir(),
    redirect: false,
    redirectExpiry: 60_000,
  };

  // 16,668 stubbed parts, each spooled too: several seconds on a loaded machine.
  test(
    'more than 10,000 parts fails clearly; a size hint grows the parts to fit',
    async () => {
      let completed: unknown[] = [];
      const client = stubClient((command, input) => {
        if (command === 'CompleteMultipartUploadCommand') completed = (input.MultipartUpload as { Parts: unknown[] }).Parts;
        return { UploadId: 'u', ETag: '"e"' };
      });
      const driver = new S3Driver({ ...base, partSize: 1 }, client);
      const w = await driver.writer('blobs/huge');
      await expect(w.write(Buffer.alloc(10_001))).rejects.toThrow(/larger than 10000 parts of 1 bytes .*raise storage\.s3\.partSize/);
      await w.abort();
      const hinted = await driver.writer('blobs/huge', { sizeHint: 20_001 });
      await hinted.write(Buffer.alloc(20_001));
      await hinted.commit();
      await hinted.release();
      expect(completed).toHaveLength(6_667);
    },
    SLOW_MS,
  );

  test('a body cut short is an error, not a clean end', async () => {
    const client = stubClient(() => ({ Body: Readable.from([Buffer.from('abc')]), ContentLength: 10 }));
    const stream = await new S3Driver({ ...base, partSize: 5 * MiB }, client).reader('blobs/short');
    await expect(readAll(stream)).rejects.toThrow(/3 of 10 bytes/);
  });
});

describe('s3 config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-s3cfg-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function load(yaml: string) {
    const file = join(dir, `${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(file, yaml);
    return loadConfig(file, {}, {});
  }

  test('defaults', async () => {
    const config = await load('storage:\n  driver: s3\n  s3:\n    bucket: mirror\n');
    expect(config.storage).toEqual({
      driver: 's3',
      s3: {
        bucket: 'mirror',
        region: 'us-east-1',
        forcePathStyle: false,
        prefix: '',
        partSize: 25 * MiB,
        queueSize: 4,
        spoolDir: tmpdir(),
        redirect: false,
        redirectExpiry: 20 * 60_000,
      },
    });
  });

  test('a part size under 5 MiB is refused, naming the key', async () => {
    await expect(load('storage:\n  driver: s3\n  s3:\n    bucket: mirror\n    partSize: 4MiB\n')).rejects.toThrow(
      /storage\.s3\.partSize: must be at least 5MiB/,
    );
  });

  test('config/s3.yaml, the example, is valid', () => {
    const config = loadConfig(fileURLToPath(new URL('../../config/s3.yaml', import.meta.url)), {}, {});
    expect(describeStorage(config.storage)).toBe('s3 s3://pullthrough/ (http://127.0.0.1:9000)');
  });

  test('credentials go in pairs', async () => {
    await expect(load('storage:\n  driver: s3\n  s3:\n    bucket: mirror\n    accessKeyId: AKIA\n')).rejects.toThrow(/storage\.s3\.secretAccessKey/);
  });
});

// The HTTP API on the S3 driver (Ceph RGW, scripts/rgw.sh), in front of the fake Docker Hub: `redirect:
// true` sends cached blob GETs to a presigned S3 URL, and /readyz carries S3's own error.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { request } from 'undici';
import { configSchema } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { FakeHub } from '../fixtures/fake-hub.js';
import { RGW_START_TIMEOUT_MS, RgwGateway } from '../storage/rgw.js';

let s3: RgwGateway;
beforeAll(async () => {
  s3 = await RgwGateway.start();
}, RGW_START_TIMEOUT_MS);
afterAll(async () => {
  await s3.stop();
});

interface S3Mirror {
  hub: FakeHub;
  server: RunningServer;
  url: string;
  bucket: string;
  close(): Promise<void>;
}

/**
 * A fake Hub and a mirror on the S3 driver, configured as a user would (raw YAML values), with
 * `redirect: true`. `bucket` names one that need not exist; by default a new, empty one is made.
 */
async function startS3Mirror(bucket?: string): Promise<S3Mirror> {
  const hub = await FakeHub.start();
  const name = (await s3.config({}, bucket)).bucket;
  const config = configSchema.parse({
    listen: '127.0.0.1:0',
    storage: {
      driver: 's3',
      s3: {
        bucket: name,
        endpoint: s3.endpoint,
        forcePathStyle: true,
        ...s3.credentials(),
        partSize: '5MiB',
        redirect: true,
        redirectExpiry: '2m',
      },
    },
    upstreams: [{ name: 'docker.io', url: hub.url, timeouts: { connect: '2s', headers: '2s', body: '5s' } }],
  });
  const server = await startServer(config, pino({ level: 'silent' }));
  const port = (server.server.address() as { port: number }).port;
  return {
    hub,
    server,
    url: `http://127.0.0.1:${port}`,
    bucket: name,
    close: async () => {
      await server.close(100);
      await hub.close();
    },
  };
}

/** One GET, redirects not followed, body read to the end. */
async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

describe('mirror on S3 with redirect: true', () => {
  let m: S3Mirror;
  afterEach(async () => m.close());

  test('a cold blob is streamed; once cached, GET answers 307 to a presigned URL a plain client can download', async () => {
    m = await startS3Mirror();
    // Several parts: the redirected object is one the multipart writer assembled.
    const layer = randomBytes(7 * 1024 * 1024 + 3);
    const image = m.hub.addImage('library/app', '1', { layers: [layer] });
    const digest = image.layers[0]!;
    const blobUrl = `${m.url}/v2/library/app/blobs/${digest}`;

    const cold = await get(blobUrl);
    expect(cold.status).toBe(200);
    expect(cold.headers.location).toBeUndefined();
    expect(cold.headers['docker-content-digest']).toBe(digest);
    expect(cold.body.equals(layer)).toBe(true);
    expect(m.hub.count({ role: 'cdn', digest })).toBe(1);

    // Until the multipart upload completes, a GET joins the fetch (200); after it, storage answers.
    await m.server.mirror.blobs.settled();
    m.hub.resetCounts();
    const cached = await get(blobUrl);
    expect(cached.status).toBe(307);
    expect(cached.headers['docker-content-digest']).toBe(digest);
    const location = String(cached.headers.location);
    const hex = digest.slice('sha256:'.length);
    expect(location.startsWith(`${s3.endpoint}/${m.bucket}/blobs/sha256/${hex.slice(0, 2)}/${hex}?`)).toBe(true);
    expect(new URL(location).searchParams.get('X-Amz-Expires')).toBe('120');
    expect(new URL(location).searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

    // No credentials, no Authorization: the signature in the URL is all S3 needs.
    const direct = await get(location);
    expect(direct.status).toBe(200);
    expect(direct.body.equals(layer)).toBe(true);
    // Clients follow the redirect with their Range header; S3 answers it.
    const ranged = await get(location, { range: 'bytes=5242870-5242889' });
    expect(ranged.status).toBe(206);
    expect(ranged.body.equals(layer.subarray(5_242_870, 5_242_890))).toBe(true);

    // HEAD is answered by the mirror itself (size and digest), never redirected.
    const head = await request(blobUrl, { method: 'HEAD' });
    await head.body.dump();
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe(String(layer.length));
    expect(m.hub.count({ kind: 'blob' }) + m.hub.count({ role: 'cdn' })).toBe(0);
  });

  test('/readyz is 503 with S3 NoSuchBucket when the bucket is missing', async () => {
    const missing = `missing-${randomBytes(4).toString('hex')}`;
    m = await startS3Mirror(missing);
    const res = await get(`${m.url}/readyz`);
    expect(res.status).toBe(503);
    const body = JSON.parse(res.body.toString('utf8')) as { status: string; checks: { name: string; ok: boolean; error?: string }[] };
    expect(body.status).toBe('failing');
    const storage = body.checks.find((c) => c.name === 'storage');
    expect(storage?.ok).toBe(false);
    expect(storage?.error).toMatch(new RegExp(`^s3: PutObject s3://${missing}/_health/probe-[0-9a-f-]+: NoSuchBucket \\(HTTP 404\\)$`));
    // The upstream is fine: only storage fails.
    expect(body.checks.find((c) => c.name === 'upstream docker.io')?.ok).toBe(true);
  });
});

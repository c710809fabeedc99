// `pullthrough gc` on a bucket of Ceph's RGW: mark and sweep over S3 listings, and the multipart
// uploads it leaves alone (younger than a day) or aborts (older; the driver's sweep, by cutoff).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { ManifestStore } from '../../src/cache/manifest-store.js';
import { parseDigest, sha256 } from '../../src/oci/digest.js';
import { withDriverBase } from '../../src/storage/base.js';
import { paths } from '../../src/storage/paths.js';
import { S3Driver } from '../../src/storage/s3.js';
import { ensureBuilt, runCli } from '../cli-harness.js';
import { RGW_START_TIMEOUT_MS, RgwGateway } from './rgw.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
let s3: RgwGateway;
let dir: string;
beforeAll(async () => {
  [s3, dir] = await Promise.all([RgwGateway.start(), mkdtemp(join(tmpdir(), 'pt-s3gc-')), ensureBuilt()]);
}, RGW_START_TIMEOUT_MS);
afterAll(async () => {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

test('gc removes the blobs no cached manifest references, keeps the image whole, and leaves a fresh multipart upload alone', async () => {
  const config = await s3.config({ prefix: 'mirror' });
  const driver = withDriverBase(new S3Driver(config));
  const putBlob = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    await driver.put(paths.blob(parseDigest(digest)), bytes);
    return digest;
  };
  const [configDigest, layerDigest, ...orphans] = await Promise.all([
    putBlob(randomBytes(100)),
    putBlob(randomBytes(2000)),
    putBlob(randomBytes(300)),
    putBlob(randomBytes(400)),
  ]);
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: 100 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: 2000 }],
    }),
  );
  const manifestDigest = sha256(body);
  const store = new ManifestStore(driver);
  await store.put('docker.io', 'library/app', { body, digest: manifestDigest, mediaType: OCI_MANIFEST });
  await store.putTag('docker.io', 'library/app', '1', { digest: manifestDigest, mediaType: OCI_MANIFEST, size: body.length, checkedAt: Date.now() });
  // A writer's upload under way (or crashed a minute ago): not a day old, so gc keeps it.
  const client = s3.client();
  await client.send(new CreateMultipartUploadCommand({ Bucket: config.bucket, Key: 'mirror/blobs/sha256/ee/in-flight' }));
  client.destroy();

  const file = join(dir, 'config.yaml');
  await writeFile(file, stringify({ storage: { driver: 's3', s3: { ...config, partSize: '5MiB', redirectExpiry: '20m' } } }));
  const gc = await runCli(['gc', '--config', file, '--grace', '0s']);
  // stderr may carry the AWS SDK's notice about Node 20; only the exit code and stdout matter.
  expect({ code: gc.code, stderr: gc.code === 0 ? '' : gc.stderr }).toEqual({ code: 0, stderr: '' });
  expect(
    gc.stdout
      .split('\n')
      .filter((l) => l.startsWith('removed '))
      .map((l) => l.split(' ')[1])
      .sort(),
  ).toEqual([...orphans].sort());
  expect(gc.stdout).toMatch(/1 repositories, 1 manifests, 3 blobs referenced; removed 2 blobs .*, 0 stale temps;/);

  const blobKey = (digest: string) => paths.blob(parseDigest(digest));
  const keys = (await s3.allKeys(config.bucket, config.prefix)).map((k) => k.replace(/ \(multipart upload .+\)$/, ' (upload)'));
  expect(keys).toEqual(
    [
      ...[manifestDigest, configDigest, layerDigest].map(blobKey),
      paths.manifestLink('docker.io', 'library/app', parseDigest(manifestDigest)),
      paths.tag('docker.io', 'library/app', '1'),
      'blobs/sha256/ee/in-flight (upload)',
    ].sort(),
  );
  // Once older than gc's cutoff, the sweep gc runs aborts it.
  expect(await driver.sweepTemps(new Date(Date.now() + 60_000))).toBe(1);
  expect((await s3.allKeys(config.bucket)).filter((k) => k.includes('multipart upload'))).toEqual([]);
}, 120_000);

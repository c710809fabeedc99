import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  S3Client,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { s3StorageSchema, type S3Config } from '../../src/storage/s3-config.js';
import { S3Driver } from '../../src/storage/s3.js';
import type { DriverFixture } from './contract.js';

/** What `scripts/rgw.sh start` prints. */
export interface RgwSettings {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The nearest ancestor holding package.json: this file also runs compiled under dist-bench/. */
function repoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const RGW_SCRIPT = join(repoRoot(dirname(fileURLToPath(import.meta.url))), 'scripts', 'rgw.sh');
/** A cold start takes about 8 s here; generous for slow CI disks. Use it as the beforeAll timeout. */
export const RGW_START_TIMEOUT_MS = 180_000;

const rgwScript = (...args: string[]) => spawnSync('bash', [RGW_SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

/**
 * The process a gateway user is registered under (rgw.sh use/release): the jest run's (set by
 * its globalSetup, inherited by the workers), else this process's (the bench).
 */
const userPid = () => process.env.RGW_USER_PID ?? String(process.pid);

/** This run is done with the gateway: rgw.sh stops it if no other live run uses it and nobody keeps it. */
export function releaseRgw(): void {
  rgwScript('release', userPid());
}

/** The gateway's daemons by name (mon.a, osd.0, client.rgw.a) → pid, from rgw.sh's pid files. */
export function rgwDaemons(): Map<string, number> {
  const run = join(rgwScript('dir').stdout.trim(), 'run');
  const pids = readdirSync(run).filter((f) => f.endsWith('.pid'));
  return new Map(pids.map((f) => [f.slice(0, -'.pid'.length), Number(readFileSync(join(run, f), 'utf8'))]));
}

/**
 * The Ceph RADOS Gateway of scripts/rgw.sh (one per checkout, shared by every suite of a run):
 * started on first use, reused after that. Each caller works in buckets of its own.
 */
export class RgwGateway {
  private readonly buckets = new Set<string>();

  private constructor(readonly settings: RgwSettings) {}

  /** Starts the gateway, or joins the one running, for this run; stop() then removes only this caller's buckets. */
  static async start(): Promise<RgwGateway> {
    const { stdout } = await promisify(execFile)('bash', [RGW_SCRIPT, 'use', userPid()], { timeout: RGW_START_TIMEOUT_MS });
    return new RgwGateway(JSON.parse(stdout.trim().split('\n').pop()!) as RgwSettings);
  }

  get endpoint(): string {
    return this.settings.endpoint;
  }

  /** A new object each time: the SDK annotates the one it is given. */
  credentials(): { accessKeyId: string; secretAccessKey: string } {
    return { accessKeyId: this.settings.accessKeyId, secretAccessKey: this.settings.secretAccessKey };
  }

  client(): S3Client {
    return new S3Client({
      region: 'us-east-1',
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials: this.credentials(),
      // As the driver does for any custom endpoint: RGW 16 rejects the SDK's default checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** A new, empty bucket, removed with its contents by stop(). */
  async createBucket(): Promise<string> {
    const name = `t-${randomBytes(6).toString('hex')}`;
    await this.withClient((client) => client.send(new CreateBucketCommand({ Bucket: name })));
    this.buckets.add(name);
    return name;
  }

  /** The storage config a user would write for `bucket` (default: a new one; a named one need not exist). */
  async config(overrides: Partial<Record<keyof S3Config, unknown>> = {}, bucket?: string): Promise<S3Config> {
    const name = bucket ?? (await this.createBucket());
    const raw = { bucket: name, endpoint: this.endpoint, forcePathStyle: true, ...this.credentials(), partSize: '5MiB', ...overrides };
    return s3StorageSchema.parse({ driver: 's3', s3: raw }).s3;
  }

  /** Every object in the bucket, and every pending multipart upload as "<key> (multipart upload <id>)", relative to `prefix`. */
  async allKeys(bucket: string, prefix = ''): Promise<string[]> {
    const keys = await this.withClient(async (client) => {
      const found: string[] = [];
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
        for (const o of page.Contents ?? []) found.push(o.Key!);
      }
      for await (const u of pendingUploads(client, bucket)) found.push(`${u.Key} (multipart upload ${u.UploadId})`);
      return found;
    });
    // Keys under the driver's prefix as the driver names them; any others stay whole, to stand out.
    const base = prefix === '' ? '' : `${prefix}/`;
    return keys.map((k) => (k.startsWith(base) ? k.slice(base.length) : k)).sort();
  }

  /** A contract fixture on a new bucket; teardown fails if a multipart upload was left behind. */
  async fixture(overrides: Partial<Record<keyof S3Config, unknown>> = {}): Promise<DriverFixture> {
    const config = await this.config(overrides);
    const driver = new S3Driver(config);
    return {
      driver,
      allKeys: () => this.allKeys(config.bucket, config.prefix),
      teardown: async () => {
        driver.client.destroy();
        const pending = (await this.allKeys(config.bucket)).filter((k) => k.includes('(multipart upload'));
        await this.removeBucket(config.bucket);
        if (pending.length > 0) throw new Error(`multipart uploads left behind: ${pending.join(', ')}`);
      },
    };
  }

  /** Empties (objects and pending uploads) and deletes a bucket. */
  async removeBucket(bucket: string): Promise<void> {
    await this.withClient(async (client) => {
      for await (const u of pendingUploads(client, bucket)) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
      }
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
        const Objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (Objects.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    });
    this.buckets.delete(bucket);
  }

  /** Removes this caller's buckets; the gateway keeps running for the other suites (see releaseRgw). */
  async stop(): Promise<void> {
    for (const bucket of [...this.buckets]) await this.removeBucket(bucket);
  }

  private async withClient<T>(use: (client: S3Client) => Promise<T>): Promise<T> {
    const client = this.client();
    try {
      return await use(client);
    } finally {
      client.destroy();
    }
  }
}

/** Every pending multipart upload in the bucket, page by page (the SDK has no paginator for them). */
export async function* pendingUploads(client: S3Client, bucket: string): AsyncGenerator<{ Key?: string; UploadId?: string; Initiated?: Date }> {
  let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
  for (;;) {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...markers }));
    yield* page.Uploads ?? [];
    if (!page.IsTruncated) return;
    markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
  }
}

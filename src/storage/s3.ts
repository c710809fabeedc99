import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Transform, pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import pLimit from 'p-limit';
import {
  NotFoundError,
  type ByteRange,
  type ListedObject,
  type ObjectInfo,
  type StorageDriver,
  type StorageHealth,
  type StorageWriter,
  type WriterOptions,
} from './driver.js';
import type { S3Config } from './s3-config.js';
import { S3CallError, call, s3ErrorText } from './s3-errors.js';
import { MultipartWriter, type S3Target } from './s3-upload.js';
import { TempFile } from './temp-file.js';

/** Driver-private folder (under the prefix) for health probes; never a cache key, hidden from list(''). */
const HEALTH_DIR = '_health';
const HEALTH_TIMEOUT_MS = 10_000;
/** Stale multipart uploads aborted at once by a sweep. */
const SWEEP_CONCURRENCY = 16;

/**
 * Objects live at `<prefix>/<key>` in one bucket. New objects are multipart uploads on the final
 * key whose completion waits for commit(): S3 shows nothing under a key until
 * CompleteMultipartUpload, so no temp key and no copy are needed, and a crash leaves only an
 * incomplete upload (invisible; a bucket lifecycle rule with AbortIncompleteMultipartUpload
 * reclaims its parts). Several replicas may share the bucket: keys are content-addressed, so two
 * uploads of one key write the same bytes and the last complete wins harmlessly.
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  private readonly target: S3Target;
  private readonly keyPrefix: string;

  constructor(
    private readonly config: S3Config,
    client?: S3Client,
  ) {
    this.keyPrefix = config.prefix === '' ? '' : `${config.prefix}/`;
    this.target = {
      client: client ?? createClient(config),
      bucket: config.bucket,
      partSize: config.partSize,
      queueSize: config.queueSize,
      // Checksums the SDK adds by default since 3.729 break many S3-compatibles (older MinIO,
      // Ceph RGW); on AWS they are kept, and multipart uploads must then declare them.
      checksums: config.endpoint === undefined,
    };
  }

  get client(): S3Client {
    return this.target.client;
  }

  private objectKey(key: string): string {
    return this.keyPrefix + key;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await call(() => this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) })));
      return { size: res.ContentLength ?? 0, modifiedAt: res.LastModified ?? new Date(0) };
    } catch (err) {
      // A HEAD has no error body: a missing bucket is a 404 too. health() tells them apart.
      if (err instanceof S3CallError && err.status === 404) return undefined;
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const res = await call(() => this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) })));
      const bytes = await call(() => res.Body!.transformToByteArray());
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      if (err instanceof S3CallError && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await call(() =>
      this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key), Body: bytes, ContentLength: bytes.byteLength })),
    );
  }

  async reader(key: string, range?: ByteRange): Promise<Readable> {
    let res;
    try {
      res = await call(() =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.config.bucket,
            Key: this.objectKey(key),
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        ),
      );
    } catch (err) {
      if (err instanceof S3CallError && err.code === 'NoSuchKey') throw new NotFoundError(key);
      throw err;
    }
    const body = res.Body as Readable;
    // A server that ignored the Range would otherwise have us serve the wrong bytes as a 206.
    if (range && !res.ContentRange?.startsWith(`bytes ${range.start}-${range.end}/`)) {
      body.destroy();
      throw new Error(`GetObject ${key}: asked for bytes ${range.start}-${range.end}, got Content-Range ${res.ContentRange ?? '(none)'}`);
    }
    return exactLength(body, res.ContentLength, key);
  }

  /**
   * `sizeHint` (the upstream Content-Length), when known, raises the part size for this upload
   * so that a blob larger than 10,000 × partSize still fits; without it such a blob fails clearly.
   */
  async writer(key: string, options: WriterOptions = {}): Promise<StorageWriter> {
    // Parts in S3 cannot be read before the upload completes: a local spool serves read-back.
    const spool = await TempFile.create(join(this.config.spoolDir, `pullthrough-spool-${randomUUID()}`), { scratch: true });
    const upload = new MultipartWriter(this.target, this.objectKey(key), options.sizeHint);
    let committed = false;
    const abort = async () => {
      await spool.close();
      await upload.abort();
    };
    return {
      write: async (chunk) => {
        await Promise.all([spool.write(chunk), upload.write(chunk)]);
      },
      get landed() {
        return spool.landed;
      },
      readBack: (position, length, into) => spool.readBack(position, length, into),
      commit: async () => {
        // The spool's tail is flushed beside the completion; a spool that fails only stops
        // read-back from growing (the caller still holds what has not landed).
        await Promise.all([upload.commit(), spool.flush().catch(() => undefined)]);
        committed = true;
      },
      abort,
      release: () => (committed ? spool.close() : abort()),
    };
  }

  async delete(key: string): Promise<void> {
    await call(() => this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) })));
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.objectKey(prefix === '' ? '' : `${prefix}/`);
    const names = new Set<string>();
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.config.bucket, Prefix: base, Delimiter: '/' });
    await call(async () => {
      for await (const page of pages) {
        for (const o of page.Contents ?? []) if (o.Key && o.Key.length > base.length) names.add(o.Key.slice(base.length));
        for (const p of page.CommonPrefixes ?? []) if (p.Prefix) names.add(p.Prefix.slice(base.length, -1));
      }
    });
    if (prefix === '') names.delete(HEALTH_DIR);
    names.delete('');
    return [...names].sort();
  }

  async listObjects(prefix: string): Promise<ListedObject[]> {
    const base = this.objectKey(prefix === '' ? '' : `${prefix}/`);
    const found: ListedObject[] = [];
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.config.bucket, Prefix: base });
    await call(async () => {
      for await (const page of pages) {
        for (const o of page.Contents ?? []) {
          if (!o.Key || o.Key.length <= base.length || o.Key.endsWith('/')) continue;
          const key = o.Key.slice(base.length);
          if (prefix === '' && key.startsWith(`${HEALTH_DIR}/`)) continue;
          found.push({ key, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) });
        }
      }
    });
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async health(): Promise<StorageHealth> {
    const key = this.objectKey(`${HEALTH_DIR}/probe-${randomUUID()}`);
    const where = `s3://${this.config.bucket}/${key}`;
    const Bucket = this.config.bucket;
    const abortSignal = AbortSignal.timeout(HEALTH_TIMEOUT_MS);
    let step = 'PutObject';
    try {
      await this.client.send(new PutObjectCommand({ Bucket, Key: key, Body: 'probe' }), { abortSignal });
      step = 'GetObject';
      const res = await this.client.send(new GetObjectCommand({ Bucket, Key: key }), { abortSignal });
      if ((await res.Body!.transformToString()) !== 'probe') throw new Error('wrong bytes read back');
      step = 'DeleteObject';
      await this.client.send(new DeleteObjectCommand({ Bucket, Key: key }), { abortSignal });
      return { ok: true };
    } catch (err) {
      const text = abortSignal.aborted ? `no answer within ${HEALTH_TIMEOUT_MS / 1000}s` : s3ErrorText(err);
      return { ok: false, error: `${this.name}: ${step} ${where}: ${text}` };
    }
  }

  async space(): Promise<undefined> {
    return undefined; // a bucket has no free space to run out of; cache.maxSize bounds it
  }

  /** Aborts multipart uploads started before the cutoff: a crashed or killed writer's parts. */
  async sweepTemps(olderThan: Date, options: { dryRun?: boolean; key?: string } = {}): Promise<number> {
    const Bucket = this.config.bucket;
    const abortLimit = pLimit(SWEEP_CONCURRENCY);
    let removed = 0;
    await call(async () => {
      let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
      for (;;) {
        const Prefix = options.key !== undefined ? this.objectKey(options.key) : this.keyPrefix || undefined;
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix, ...markers }));
        const stale = (page.Uploads ?? []).filter(
          (u) => u.Key && u.UploadId && u.Initiated && u.Initiated < olderThan && (options.key === undefined || u.Key === Prefix),
        );
        // A page's aborts side by side: one at a time, 1,005 stale uploads took 16.7 s on RGW.
        if (!options.dryRun) {
          await Promise.all(
            stale.map((u) => abortLimit(() => this.client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId })))),
          );
        }
        removed += stale.length;
        if (!page.IsTruncated) break;
        markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
      }
    });
    return removed;
  }

  /**
   * With `redirect: true`, a presigned URL that GETs the object without credentials until it
   * expires. Signing is local (no request to S3), so the caller checks the object exists first.
   */
  async directUrl(key: string): Promise<string | undefined> {
    if (!this.config.redirect) return undefined;
    const expiresIn = Math.round(this.config.redirectExpiry / 1000);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(key) }), { expiresIn });
  }
}

function createClient(config: S3Config): S3Client {
  const custom = config.endpoint !== undefined;
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials: config.accessKeyId && config.secretAccessKey ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } : undefined,
    requestChecksumCalculation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    responseChecksumValidation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    // No idle timeout: a slow client pauses the body of its S3 GET, which is not a failure.
    requestHandler: { connectionTimeout: 10_000 },
  });
}

/**
 * The body, ending cleanly only if every byte S3 announced arrived: a connection cut mid-body
 * becomes an error the caller sees, never a short object that looks whole.
 */
function exactLength(body: Readable, expected: number | undefined, key: string): Readable {
  let seen = 0;
  const out = new Transform({
    highWaterMark: 256 * 1024,
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      done(expected !== undefined && seen !== expected ? new Error(`s3: read ${key}: ${seen} of ${expected} bytes before the stream ended`) : null);
    },
  });
  pipeline(body, out, () => undefined);
  return out;
}

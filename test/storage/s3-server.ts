import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client, paginateListObjectsV2 } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { s3StorageSchema, type S3Config } from '../../src/storage/s3-config.js';
import { S3Driver } from '../../src/storage/s3.js';
import type { DriverFixture } from './contract.js';

/** s3rver's fixed credentials; a new object each time, since the SDK annotates the one it is given. */
const credentials = () => ({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
/** Where s3rver 3.7 keeps a bucket's pending multipart uploads: `<dir>/<bucket>/._S3rver_uploads/<uploadId>/`. */
const UPLOADS_DIR = '._S3rver_uploads';

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}

/**
 * A real s3rver on 127.0.0.1 (ephemeral port, temp directory), with what s3rver 3.7.1 gets wrong
 * or lacks made to behave as S3 does, each in the smallest place:
 * - AbortMultipartUpload (s3rver: MethodNotAllowed) and ListMultipartUploads (NotImplemented): a
 *   middleware ahead of s3rver's router implements both over s3rver's own upload directories, so
 *   the driver's abort is checked against what s3rver really holds. Auth is not checked on them.
 * - `Range: bytes=0-0` (s3rver: the whole object, from `options.end || Infinity`) and listing with
 *   a delimiter (s3rver: drops a common prefix whose folder holds no object directly, since its
 *   walk stops one level below the prefix): patched in s3rver's store; see fixStore.
 */
export class S3rverFixture {
  private constructor(
    private readonly server: S3rver,
    readonly dir: string,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<S3rverFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'pt-s3rver-'));
    const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true });
    (server as unknown as { middleware: unknown[] }).middleware.unshift(multipartShim(dir));
    fixStore((server as unknown as { store: S3rverStore }).store);
    const { port } = await server.run();
    return new S3rverFixture(server, dir, `http://127.0.0.1:${port}`);
  }

  async stop(): Promise<void> {
    await this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  client(): S3Client {
    return new S3Client({ region: 'us-east-1', endpoint: this.endpoint, forcePathStyle: true, credentials: credentials() });
  }

  /** A validated driver config for a new, empty bucket (or for `bucket`, which need not exist). */
  async config(overrides: Partial<Record<keyof S3Config, unknown>> = {}, bucket?: string): Promise<S3Config> {
    const name = bucket ?? `t-${randomBytes(6).toString('hex')}`;
    if (bucket === undefined) {
      const client = this.client();
      await client.send(new CreateBucketCommand({ Bucket: name }));
      client.destroy();
    }
    const raw = { bucket: name, endpoint: this.endpoint, forcePathStyle: true, ...credentials(), partSize: '5MiB', ...overrides };
    return s3StorageSchema.parse({ driver: 's3', s3: raw }).s3;
  }

  /** Every object in the bucket, and every pending multipart upload as "<key> (multipart upload <id>)", relative to `prefix`. */
  async allKeys(bucket: string, prefix = ''): Promise<string[]> {
    const client = this.client();
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
      for (const o of page.Contents ?? []) keys.push(o.Key!);
    }
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    client.destroy();
    for (const u of uploads.Uploads ?? []) keys.push(`${u.Key} (multipart upload ${u.UploadId})`);
    // Keys under the driver's prefix as the driver names them; any others stay whole, to stand out.
    const base = prefix === '' ? '' : `${prefix}/`;
    return keys.map((k) => (k.startsWith(base) ? k.slice(base.length) : k)).sort();
  }

  /**
   * A contract fixture on a fresh bucket; teardown fails if a multipart upload was left behind.
   * `unchecked` skips the schema, e.g. for parts below S3's 5 MiB, which s3rver accepts.
   */
  async fixture(overrides: Partial<Record<keyof S3Config, unknown>> = {}, unchecked: Partial<S3Config> = {}): Promise<DriverFixture> {
    const config = { ...(await this.config(overrides)), ...unchecked };
    const driver = new S3Driver(config);
    return {
      driver,
      allKeys: () => this.allKeys(config.bucket, config.prefix),
      teardown: async () => {
        driver.client.destroy();
        const pending = (await this.allKeys(config.bucket)).filter((k) => k.includes('(multipart upload'));
        await rm(join(this.dir, config.bucket), { recursive: true, force: true });
        if (pending.length > 0) throw new Error(`multipart uploads left behind: ${pending.join(', ')}`);
      },
    };
  }
}

function multipartShim(dir: string) {
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    const [bucket, ...key] = ctx.path.split('/').filter((s) => s !== '');
    const uploads = join(dir, bucket ?? '', UPLOADS_DIR);
    if (ctx.method === 'DELETE' && key.length > 0 && typeof ctx.query.uploadId === 'string') {
      const upload = join(uploads, ctx.query.uploadId);
      const exists = await readFile(join(upload, 'key')).then(() => true, () => false);
      if (!exists) return xml(ctx, 404, `<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>`);
      await rm(upload, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && key.length === 0 && 'uploads' in ctx.query) {
      const ids = await readdir(uploads).catch(() => [] as string[]);
      const entries = await Promise.all(
        ids.map(async (id) => {
          const key = await readFile(join(uploads, id, 'key'), 'utf8');
          const initiated = (await stat(join(uploads, id))).birthtime.toISOString();
          return `<Upload><Key>${key}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated></Upload>`;
        }),
      );
      return xml(ctx, 200, `<ListMultipartUploadsResult><Bucket>${bucket}</Bucket><IsTruncated>false</IsTruncated>${entries.join('')}</ListMultipartUploadsResult>`);
    }
    await next();
  };
}

interface S3rverObject {
  key: string;
  content?: NodeJS.ReadableStream & { destroy(): void };
  range?: { start: number; end: number };
}
interface ListOptions {
  delimiter?: string;
  prefix?: string;
  maxKeys?: number;
}
interface ListResult {
  objects: S3rverObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>;
  listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
}

function fixStore(store: S3rverStore): void {
  const getObject = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    const object = await getObject(bucket, key, options);
    if (object?.content && options?.end === 0) {
      object.content.destroy();
      object.content = createReadStream(store.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
      object.range = { start: 0, end: 0 };
    }
    return object;
  };
  // Lists everything under the prefix (s3rver's walk is right without a delimiter), then groups as
  // S3 does. One page only: test buckets are small.
  const listObjects = store.listObjects.bind(store);
  store.listObjects = async (bucket, options) => {
    const { delimiter, prefix = '' } = options;
    if (!delimiter) return listObjects(bucket, options);
    const all = await listObjects(bucket, { ...options, delimiter: '', maxKeys: Infinity });
    const objects: S3rverObject[] = [];
    const commonPrefixes = new Set<string>();
    for (const o of all.objects) {
      const i = o.key.indexOf(delimiter, prefix.length);
      if (i === -1) objects.push(o);
      else commonPrefixes.add(o.key.slice(0, i + delimiter.length));
    }
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
  };
}

function xml(ctx: KoaContext, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n${body}`;
}

import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { ByteRange, StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import type { Route } from '../upstream/routing.js';
import { BlobFetch } from './blob-fetch.js';
import type { CacheStatus } from './status.js';
import type { UsageIndex } from './usage-index.js';

/** A blob ready to be served: its size now, its bytes on open(). */
export interface BlobHandle {
  size: number;
  cache: CacheStatus;
  /** Where the client may fetch the stored bytes itself (S3 `redirect: true`), instead of open(). */
  redirect?: string;
  /** The bytes, or one inclusive range of them. Call once per response. */
  open(range?: ByteRange): Promise<Readable>;
}

/**
 * Pull-through blobs: `local` is storage, `remote` the route's upstream. Blobs are immutable and
 * shared by digest across repositories and upstreams. A miss starts one BlobFetch per digest;
 * concurrent requests for the same digest join it, so a cold herd costs one upstream transfer.
 */
export class PullThroughBlobs {
  private readonly fetches = new Map<string, BlobFetch>();

  constructor(
    private readonly local: StorageDriver,
    private readonly log: Logger,
    /** Access times and pins for eviction; absent when the cache is unbounded. */
    private readonly usage?: UsageIndex,
  ) {}

  /** For HEAD: size from storage, from a running fetch, or from an upstream HEAD (nothing fetched). */
  async statBlob(route: Route, digest: Digest): Promise<{ size: number; cache: CacheStatus }> {
    const info = await this.local.stat(paths.blob(digest));
    if (info) return { size: info.size, cache: 'hit' };
    const running = this.fetches.get(digest.value);
    const size = running ? await running.ready : undefined;
    if (size !== undefined) return { size, cache: 'coalesced' };
    return { size: await route.upstream.client.headBlob(route.name, digest.value), cache: 'upstream' };
  }

  /**
   * `live`: the caller will read the whole blob (no Range), so if this request starts the fetch
   * it is streamed the bytes as they arrive instead of waiting for the commit.
   */
  async getBlob(route: Route, digest: Digest, live: boolean): Promise<BlobHandle> {
    const key = paths.blob(digest);
    const info = await this.local.stat(key);
    if (info) {
      this.usage?.touch(digest.value);
      const redirect = await this.local.directUrl(key);
      return { size: info.size, cache: 'hit', redirect, open: (range) => this.read(digest, range) };
    }

    let fetch = this.fetches.get(digest.value);
    const joined = fetch !== undefined;
    let liveStream: PassThrough | undefined;
    if (!fetch) {
      liveStream = live ? new PassThrough({ highWaterMark: 1024 * 1024 }) : undefined;
      const started = new BlobFetch(route, digest, this.local, this.log, liveStream, (d, size) => this.usage?.add(d, size));
      this.fetches.set(digest.value, started);
      const forget = () => this.fetches.delete(digest.value);
      started.done.then(forget, forget);
      fetch = started;
    }
    const running = fetch;
    let size = await running.ready;
    if (size === undefined) {
      // The upstream sent no length: only the committed object can say how big it is.
      await running.done;
      size = (await this.local.stat(key))?.size ?? 0;
    }
    return {
      size,
      cache: joined ? 'coalesced' : 'miss',
      open: async (range) => {
        if (liveStream && !range) return liveStream;
        return this.afterCommit(running, digest, range);
      },
    };
  }

  /** Aborts every running fetch (shutdown): their temps are removed, their clients see an error. */
  abortAll(reason: Error): void {
    for (const f of this.fetches.values()) f.abort(reason);
  }

  get inflight(): number {
    return this.fetches.size;
  }

  /** A stored blob's bytes; pinned against eviction until the stream closes. */
  private async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    const stream = (await this.local.reader(paths.blob(digest), range)) as Readable;
    if (this.usage) stream.once('close', this.usage.pin(digest.value));
    return stream;
  }

  /**
   * A stream returned at once (so response headers go out now) and filled from storage once the
   * running fetch commits; destroyed with the fetch's error if it fails.
   */
  private afterCommit(fetch: BlobFetch, digest: Digest, range?: ByteRange): Readable {
    const out = new PassThrough();
    fetch.done
      .then(() => this.read(digest, range))
      .then(
        (stored) => {
          stored.on('error', (err) => out.destroy(err));
          stored.pipe(out);
        },
        (err: unknown) => out.destroy(err instanceof Error ? err : new RegistryError('UNAVAILABLE', String(err))),
      );
    return out;
  }
}

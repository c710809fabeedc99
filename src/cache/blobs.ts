import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import type { ByteRange, StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import type { Route } from '../upstream/routing.js';
import { BlobFetch } from './blob-fetch.js';
import type { CacheStatus } from './status.js';
import type { UsageIndex } from './usage-index.js';

/** A blob ready to be served: its size now, its bytes on open(). */
export interface BlobHandle {
  /** Undefined while a fetch runs whose upstream sent no length: the body is sent chunked. */
  size: number | undefined;
  cache: CacheStatus;
  /** Where the client may fetch the stored bytes itself (S3 `redirect: true`), instead of open(). */
  redirect?: string;
  /** The bytes, or one inclusive range of them. Call once per response. */
  open(range?: ByteRange): Promise<Readable>;
  /** Resolves once the blob is in storage (at once for a hit); rejects if it could not be stored. */
  stored: Promise<void>;
}

/**
 * Pull-through blobs: `local` is storage, `remote` the route's upstream. Blobs are immutable and
 * shared by digest across repositories and upstreams. A miss starts one BlobFetch per digest;
 * every request for the digest while it runs, the first included, reads the bytes as they land,
 * so a cold herd costs one upstream transfer and nobody waits for anybody.
 */
export class PullThroughBlobs {
  /** The fetch a new client of a digest joins. */
  private readonly joinable = new Map<string, BlobFetch>();
  /** Every fetch not over yet, a replaced one (storage gave up on it) included. */
  private readonly running = new Set<BlobFetch>();

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
    const running = this.joinable.get(digest.value);
    const size = running ? await running.ready : undefined;
    if (size !== undefined) return { size, cache: 'coalesced' };
    return { size: await route.upstream.client.headBlob(route.name, digest.value), cache: 'upstream' };
  }

  /**
   * The stored blob, or the running fetch of it (started here if none runs). `sized`: the caller
   * needs the size before any byte (a Range request), so a fetch without a length is waited for.
   */
  async getBlob(route: Route, digest: Digest, options: { sized?: boolean } = {}): Promise<BlobHandle> {
    const key = paths.blob(digest);
    const info = await this.local.stat(key);
    if (info) {
      this.usage?.touch(digest.value);
      const redirect = await this.local.directUrl(key);
      return { size: info.size, cache: 'hit', redirect, open: (range) => this.read(digest, range), stored: Promise.resolve() };
    }

    let running = this.joinable.get(digest.value);
    const joined = running?.joinable === true;
    if (!running || !joined) running = this.start(route, digest);
    let size = await running.ready;
    if (size === undefined && options.sized) size = await running.complete;
    return {
      size,
      cache: joined ? 'coalesced' : 'miss',
      stored: running.done,
      open: async (range) => {
        const reader = running.reader(range);
        // The fetch ended and let its temp go between the two calls: the blob is stored by now.
        return reader ? this.pinned(digest, reader) : this.read(digest, range);
      },
    };
  }

  /** Aborts every running fetch (shutdown): their temps are removed, their clients see an error. */
  abortAll(reason: Error): void {
    for (const f of this.running) f.abort(reason);
  }

  get inflight(): number {
    return this.running.size;
  }

  /** Clients reading running fetches, and how many of them wait for bytes (status, leak checks). */
  get readers(): { attached: number; waiting: number } {
    let attached = 0;
    let waiting = 0;
    for (const f of this.running) {
      attached += f.readerCount;
      waiting += f.waiting;
    }
    return { attached, waiting };
  }

  /** Resolves once no fetch runs: each stored or given up, its temp gone (tests; a drain before shutdown). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running].map((f) => f.done));
  }

  /** A storage-failed fetch is replaced for new clients but finishes for its own, still counted as running. */
  private start(route: Route, digest: Digest): BlobFetch {
    const fetch = new BlobFetch(route, digest, this.local, this.log, (d, size) => this.usage?.add(d, size));
    this.joinable.set(digest.value, fetch);
    this.running.add(fetch);
    const forget = () => {
      this.running.delete(fetch);
      if (this.joinable.get(digest.value) === fetch) this.joinable.delete(digest.value);
    };
    fetch.done.then(forget, forget);
    return fetch;
  }

  /** A stored blob's bytes; pinned against eviction until the stream closes. */
  private async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return this.pinned(digest, (await this.local.reader(paths.blob(digest), range)) as Readable);
  }

  /** Every stream closes (autoDestroy), also when its client hangs up: the pin goes with it. */
  private pinned(digest: Digest, stream: Readable): Readable {
    if (this.usage) stream.once('close', this.usage.pin(digest.value));
    return stream;
  }
}

import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ClusterLeases, Lease } from '../cluster/lease.js';
import type { Digest } from '../oci/digest.js';
import type { ByteRange, StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import type { Route } from '../upstream/routing.js';
import { BlobFetch } from './blob-fetch.js';
import { Inflight } from './inflight.js';
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
 * so a cold herd costs one upstream transfer and nobody waits for anybody. In cluster mode a
 * fetch starts only under the digest's lease: a replica that cannot take it waits for the
 * holder's commit and serves the stored blob (S3 parts are not readable before completion).
 */
export class PullThroughBlobs {
  /** The fetch a new client of a digest joins. */
  private readonly joinable = new Map<string, BlobFetch>();
  /** Every fetch not over yet, a replaced one (storage gave up on it) included. */
  private readonly running = new Set<BlobFetch>();
  /** Cluster mode: one lease attempt per digest at a time from this replica, shared by its clients. */
  private readonly claims = new Inflight<Lease | 'stored' | undefined>();
  /** Fetches ended so far, of any digest (see getBlob). */
  private ended = 0;

  constructor(
    private readonly local: StorageDriver,
    private readonly log: Logger,
    /** Access times and pins for eviction; absent when the cache is unbounded. */
    private readonly usage?: UsageIndex,
    /** Cluster mode: leases across replicas (absent: this replica fetches alone). */
    private readonly leases?: ClusterLeases,
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
    // A fetch that ends while storage is asked may have committed after the answer and left the
    // joinable map: asked again, or a herd's late client would fetch the blob a second time.
    for (let ended = this.ended; ; ended = this.ended) {
      const hit = await this.stored(digest);
      if (hit) return hit;
      if (ended === this.ended) break;
    }

    let running = this.joinable.get(digest.value);
    let joined = running?.joinable === true;
    // A fetch of ours that storage gave up on still holds the lease: the new one starts alone.
    if (!running && this.leases) {
      const claim = await this.claims.run(digest.value, () => this.claim(digest)).result;
      const committed = claim === 'stored' ? await this.stored(digest) : undefined;
      if (committed) return committed;
      // The clients that shared the claim: the first here starts the fetch, the others join it.
      running = this.joinable.get(digest.value);
      joined = running?.joinable === true;
      if (!running || !joined) running = this.start(route, digest, typeof claim === 'object' ? claim : undefined);
    } else if (!running || !joined) running = this.start(route, digest);
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

  /** The stored blob as a hit, or undefined when storage does not hold it. */
  private async stored(digest: Digest): Promise<BlobHandle | undefined> {
    const key = paths.blob(digest);
    const info = await this.local.stat(key);
    if (!info) return undefined;
    this.usage?.touch(digest.value);
    const redirect = await this.local.directUrl(key);
    return { size: info.size, cache: 'hit', redirect, open: (range) => this.read(digest, range), stored: Promise.resolve() };
  }

  /**
   * Cluster mode: the digest's lease (this replica fetches), `stored` (another replica committed
   * it while this one waited, or just before it took the lease), or undefined (Redis failed: alone).
   */
  private async claim(digest: Digest): Promise<Lease | 'stored' | undefined> {
    const claim = await this.leases!.claim('blob', digest.value);
    if (claim.kind !== 'held') return claim.kind === 'committed' ? 'stored' : undefined;
    try {
      if (await this.local.stat(paths.blob(digest))) {
        await claim.lease.release(false);
        return 'stored';
      }
      // The holder died mid-transfer: its pending upload of this key is abandoned (S3 keeps it until aborted).
      if (claim.lease.takenOver) await this.local.sweepTemps(new Date(), { key: paths.blob(digest) });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, digest: digest.value }, 'cannot check storage after taking a blob lease; fetching');
    }
    return claim.lease;
  }

  /**
   * A storage-failed fetch is replaced for new clients but finishes for its own, still counted as
   * running. A lease (cluster mode) is released when the fetch settles: committed, or not.
   */
  private start(route: Route, digest: Digest, lease?: Lease): BlobFetch {
    const fetch = new BlobFetch(route, digest, this.local, this.log, (d, size) => this.usage?.add(d, size));
    this.joinable.set(digest.value, fetch);
    this.running.add(fetch);
    const forget = () => {
      this.ended += 1;
      this.running.delete(fetch);
      if (this.joinable.get(digest.value) === fetch) this.joinable.delete(digest.value);
    };
    fetch.done.then(forget, forget);
    if (lease)
      fetch.done.then(
        () => lease.release(true),
        () => lease.release(false),
      );
    return fetch;
  }

  /** A stored blob's bytes; pinned against eviction until the stream closes. */
  private async read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return this.pinned(digest, await this.local.reader(paths.blob(digest), range));
  }

  /** Every stream closes (autoDestroy), also when its client hangs up: the pin goes with it. */
  private pinned(digest: Digest, stream: Readable): Readable {
    if (this.usage) stream.once('close', this.usage.pin(digest.value));
    return stream;
  }
}

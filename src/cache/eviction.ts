import type { Logger } from 'pino';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { listStoredBlobs } from '../storage/blob-listing.js';
import { paths } from '../storage/paths.js';
import { readImages, type CachedImage } from './image-graph.js';
import type { ManifestStore } from './manifest-store.js';
import type { UsageIndex } from './usage-index.js';

export interface EvictionLimits {
  /** Evict when stored bytes exceed this. */
  maxBytes?: number;
  /** Evict when the storage's free space drops under this (drivers that can tell). */
  minFreeBytes?: number;
  /** Evict images not used for longer than this (cache.maxAge). */
  maxAgeMs?: number;
}

export interface EvictionRound {
  images: number;
  blobs: number;
  bytes: number;
}

/** Evict down to this share of maxBytes, so one commit past the limit does not start a round each time. */
const LOW_WATERMARK = 0.9;
/**
 * An image whose manifest was served this recently, and whose blobs have not all been served
 * since, is being pulled: its layers are about to be asked for. Nothing else is protected beyond
 * the blobs being read or fetched.
 */
export const ACTIVE_PULL_MS = 5_000;
/** The bound is also checked on this beat, so a cache over it after the pulls stopped still shrinks. */
const CHECK_EVERY_MS = 1_000;
/** With maxAge, a round looks for expired images this often (a round reads every manifest). */
const AGE_EVERY_MS = 60_000;
/** The index is checked against one listing of blobs/ this often: gc, purge and warm run in other processes. */
const RECONCILE_EVERY_MS = 5 * 60_000;

/**
 * Least-recently-used eviction by whole images: an image (a top-level manifest with its child
 * manifests, configs and layers) was last used when a part only it holds was (a shared base layer
 * would make every image that has it look as recent as the newest). Evicting one removes its tags
 * and links first, then the blobs no remaining image references, so a cached manifest never points
 * at a missing blob. Loose blobs (pulled by digest, no manifest) are units of their own.
 */
export class Evictor {
  private running?: Promise<EvictionRound>;
  /** A check arrived during a round: look again when it ends. */
  private recheck = false;
  private timer?: NodeJS.Timeout;
  private lastAgeRound = -Infinity;
  private lastReconcile: number;

  constructor(
    private readonly storage: StorageDriver,
    /** The server's own store, so what eviction removes also leaves its memory. */
    private readonly store: ManifestStore,
    private readonly usage: UsageIndex,
    private readonly limits: EvictionLimits,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    // The index was loaded from a listing just now.
    this.lastReconcile = now();
  }

  /** Starts a round in the background if over a limit and none is running. */
  check(): void {
    if (this.running) {
      this.recheck = true;
      return;
    }
    const none: EvictionRound = { images: 0, blobs: 0, bytes: 0 };
    this.running = this.reconcileIfDue()
      .then(() => this.usage.refresh())
      .then(() => this.overLimit())
      // In cluster mode one replica at a time evicts (the others' rounds resolve undefined).
      .then(async (over) => (over || this.ageRoundDue() ? ((await this.usage.exclusive(() => this.evict())) ?? none) : none))
      .finally(() => {
        this.running = undefined;
        if (this.recheck) {
          this.recheck = false;
          this.check();
        }
      });
    this.running.catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'eviction failed'));
  }

  /** Checks the limits every second from now on, not only when a blob is added. */
  start(): void {
    this.timer ??= setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  /** Stops the beat and waits for a running round (shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Waits until no round is running or due (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  async evict(): Promise<EvictionRound> {
    const round: EvictionRound = { images: 0, blobs: 0, bytes: 0 };
    this.lastAgeRound = this.now();
    const images = await readImages(this.storage);
    const owners = new Map<string, number>();
    for (const image of images) for (const d of image.closure) owners.set(d, (owners.get(d) ?? 0) + 1);
    const loose = this.usage.all().filter((b) => !owners.has(b.digest));
    const units = [
      ...images.map((image) => ({ image, digests: [...image.closure], lastUsed: this.lastUsed(image.closure, owners) })),
      ...loose.map((b) => ({ image: undefined, digests: [b.digest], lastUsed: b.lastAccess })),
    ].sort((a, b) => a.lastUsed - b.lastUsed);

    const { maxAgeMs } = this.limits;
    for (const unit of units) {
      // Oldest first: past the expired ones, only a limit still passed keeps the round going.
      const expired = maxAgeMs !== undefined && this.now() - unit.lastUsed > maxAgeMs;
      if (!expired && !(await this.overLimit(LOW_WATERMARK))) break;
      if (this.inUse(unit.digests, unit.image)) continue;
      if (unit.image) await this.unlink(unit.image);
      for (const digest of unit.digests) {
        const left = (owners.get(digest) ?? 1) - 1;
        owners.set(digest, left);
        if (left > 0) continue;
        const entry = this.usage.get(digest);
        await this.storage.delete(paths.blob(parseDigest(digest)));
        this.usage.remove(digest);
        round.blobs += 1;
        round.bytes += entry?.size ?? 0;
      }
      round.images += unit.image ? 1 : 0;
    }
    if (round.blobs > 0) {
      this.log.info({ ...round, storedBytes: this.usage.totalBytes }, 'evicted least recently used or expired images');
    }
    return round;
  }

  /** The latest use of what only this image holds (its top manifest is always its own). */
  private lastUsed(closure: Set<string>, owners: Map<string, number>): number {
    let last = 0;
    for (const d of closure) if (owners.get(d) === 1) last = Math.max(last, this.usage.get(d)?.lastAccess ?? 0);
    return last;
  }

  /**
   * Being read or fetched (pinned), or an image whose pull is in progress: a manifest of it was
   * served in the last few seconds and some config or layer has not been (stored and) served since.
   */
  private inUse(digests: string[], image: CachedImage | undefined): boolean {
    if (digests.some((d) => this.usage.isPinned(d))) return true;
    if (!image) return false;
    const now = this.now();
    const served = [...image.manifests].map((d) => this.usage.get(d)?.lastAccess ?? 0).filter((t) => now - t < ACTIVE_PULL_MS);
    if (served.length === 0) return false;
    const since = Math.min(...served);
    return [...image.closure].some((d) => !image.manifests.has(d) && (this.usage.get(d)?.lastAccess ?? 0) < since);
  }

  /** Tags and links go before the bytes, so no reader can find a manifest whose blobs are gone. */
  private async unlink(image: CachedImage): Promise<void> {
    for (const { repo, digest } of image.links) {
      for (const tag of await this.store.listTags(repo.upstream, repo.name)) {
        const record = await this.store.getTag(repo.upstream, repo.name, tag);
        if (record && image.closure.has(record.digest)) await this.store.deleteTag(repo.upstream, repo.name, tag);
      }
      await this.store.unlink(repo.upstream, repo.name, parseDigest(digest));
    }
  }

  private async reconcileIfDue(): Promise<void> {
    const started = this.now();
    if (started - this.lastReconcile < RECONCILE_EVERY_MS) return;
    this.lastReconcile = started;
    const listed = await listStoredBlobs(this.storage);
    await this.usage.reconcile(
      listed.map((b) => ({ digest: b.digest.value, size: b.size, modifiedAt: b.modifiedAt })),
      started,
    );
  }

  private ageRoundDue(): boolean {
    return this.limits.maxAgeMs !== undefined && this.now() - this.lastAgeRound >= AGE_EVERY_MS;
  }

  private async overLimit(share = 1): Promise<boolean> {
    const { maxBytes, minFreeBytes } = this.limits;
    if (maxBytes !== undefined && this.usage.totalBytes > maxBytes * share) return true;
    if (minFreeBytes !== undefined) {
      const space = await this.storage.space();
      if (space && space.freeBytes < minFreeBytes / share) return true;
    }
    return false;
  }
}

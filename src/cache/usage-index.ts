import type { Logger } from 'pino';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { forEachStoredBlob } from '../storage/blob-listing.js';
import { USAGE_STATE } from '../storage/paths.js';

export interface BlobUsage {
  digest: string;
  size: number;
  /** Epoch ms of the last read or write. */
  lastAccess: number;
}

/**
 * Size and last access of every stored blob, in memory, so eviction never walks the tree per
 * request. Built once at start (a listing plus the persisted access times), kept current by the
 * cache, and persisted as one small object now and then so a restart does not forget who was
 * used last. Blobs being read are pinned and never chosen for eviction.
 */
export class UsageIndex {
  protected readonly blobs = new Map<string, BlobUsage>();
  private readonly pins = new Map<string, number>();
  protected bytes = 0;
  private dirty = false;
  /** Called after a blob was added: the evictor checks its limits. */
  onGrow?: () => void;

  constructor(protected readonly now: () => number = Date.now) {}

  static load(storage: StorageDriver, log: Logger, now: () => number = Date.now): Promise<UsageIndex> {
    return new UsageIndex(now).fill(storage, log);
  }

  /** Adds every stored blob, with its persisted access time (else its file time). */
  async fill(storage: StorageDriver, log: Logger): Promise<this> {
    const saved = await readSaved(storage, log);
    await forEachStoredBlob(storage, (digest, info) => this.add(digest.value, info.size, saved.get(digest.value) ?? info.modifiedAt.getTime()));
    this.dirty = false;
    return this;
  }

  /** Brings totalBytes up to date before the limits are checked. */
  async refresh(): Promise<void> {
    // Nothing to do for one process's index: it is the only writer of its total.
  }

  /**
   * Runs an eviction round's `work` if this process may evict now: always, alone. (The cluster's
   * index takes a lease in Redis and loads every replica's view first; see src/cluster/usage.ts.)
   */
  exclusive<T>(work: () => Promise<T>): Promise<T | undefined> {
    return work();
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get count(): number {
    return this.blobs.size;
  }

  get(digest: string): BlobUsage | undefined {
    return this.blobs.get(digest);
  }

  add(digest: string, size: number, lastAccess = this.now()): void {
    const old = this.blobs.get(digest);
    if (old) this.bytes -= old.size;
    this.blobs.set(digest, { digest, size, lastAccess });
    this.bytes += size;
    this.dirty = true;
    this.onGrow?.();
  }

  touch(digest: string): void {
    const entry = this.blobs.get(digest);
    if (!entry) return;
    entry.lastAccess = this.now();
    this.dirty = true;
  }

  remove(digest: string): void {
    const entry = this.blobs.get(digest);
    if (!entry) return;
    this.blobs.delete(digest);
    this.bytes -= entry.size;
    this.dirty = true;
  }

  /**
   * Brings the index in line with a listing taken at `listedAt`: blobs another process stored
   * (warm) join it, blobs another process removed (gc, purge) leave it, so the total stays true.
   * An entry touched since the listing began may be newer than it and stays.
   */
  reconcile(listed: { digest: string; size: number; modifiedAt: Date }[], listedAt: number): void | Promise<void> {
    const present = new Set<string>();
    for (const b of listed) {
      present.add(b.digest);
      if (!this.blobs.has(b.digest)) this.add(b.digest, b.size, b.modifiedAt.getTime());
    }
    for (const entry of [...this.blobs.values()]) {
      if (!present.has(entry.digest) && entry.lastAccess < listedAt && !this.isPinned(entry.digest)) this.remove(entry.digest);
    }
  }

  /** Marks a blob in use until the returned function is called. */
  pin(digest: string): () => void {
    this.pins.set(digest, (this.pins.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(digest) ?? 1) - 1;
      if (n <= 0) this.pins.delete(digest);
      else this.pins.set(digest, n);
    };
  }

  isPinned(digest: string): boolean {
    return this.pins.has(digest);
  }

  all(): BlobUsage[] {
    return [...this.blobs.values()];
  }

  /** Stops background work. */
  close(): void {
    // None for one process's index (the cluster's stops its pin timer).
  }

  /** Writes access times if anything changed since the last save. */
  async save(storage: StorageDriver): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const times: Record<string, number> = {};
    for (const b of this.blobs.values()) times[b.digest] = Math.round(b.lastAccess / 1000);
    await storage.put(USAGE_STATE, Buffer.from(JSON.stringify(times)));
  }
}

async function readSaved(storage: StorageDriver, log: Logger): Promise<Map<string, number>> {
  const saved = new Map<string, number>();
  const bytes = await storage.get(USAGE_STATE);
  if (!bytes) return saved;
  try {
    for (const [digest, seconds] of Object.entries(JSON.parse(bytes.toString('utf8')) as Record<string, number>)) {
      saved.set(parseDigest(digest).value, seconds * 1000);
    }
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'ignoring unreadable access-time state; using file times');
  }
  return saved;
}

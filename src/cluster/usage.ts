import { randomUUID } from 'node:crypto';
import { UsageIndex, type BlobUsage } from '../cache/usage-index.js';
import type { ClusterRedis } from './redis.js';

/** A blob a replica is reading or fetching counts as in use for the others this long after its last refresh. */
export const REMOTE_PIN_MS = 30_000;
/** Pins still held locally are refreshed in Redis this often. */
const PIN_REFRESH_MS = REMOTE_PIN_MS / 3;

/*
 * The shared index, in Redis (keys under the cluster's prefix):
 *   usage:size    hash    digest → bytes
 *   usage:access  zset    digest, scored by last access (epoch ms)
 *   usage:total   string  the sum of usage:size, kept by the same scripts that change the hash
 *   usage:epoch   string  names this Redis lifetime: a replica seeds each new one with its view
 *   usage:inuse   zset    digest@replica, scored by when that replica's mark lapses (it refreshes
 *                         the mark while reading and removes it when done; a dead replica's lapses)
 *   usage:lease   string  the evicting replica's token (SET NX PX leaseTime, extended while its round runs)
 * Lua keeps size, total and access in step under concurrent adds and removes from any replica.
 */

/** KEYS size access total; ARGV digest bytes time. Adds or resizes, never moves an access time back. */
const RECORD = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[3], tonumber(ARGV[2]) - tonumber(old or 0))
redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[1])
return 1`;

/** KEYS size access total; ARGV digest. */
const REMOVE = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], old)
return 1`;

/** KEYS lease; ARGV token ms. Extends the lease only while this token holds it. */
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
/** KEYS lease; ARGV token. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The usage index of a replica in cluster mode: every add, touch and removal also goes to Redis,
 * so sizes and access times are the whole cluster's, and `cache.maxSize` bounds the bucket. A
 * round runs under a lease (one evicting replica at a time) on a view loaded from Redis, and
 * skips what any replica is reading. When Redis fails, the replica goes on with its own index,
 * as without cluster mode, and counts a fallback; a pull never waits on Redis.
 */
export class ClusterUsageIndex extends UsageIndex {
  /** The cluster-wide total from the last refresh; undefined: unknown, use the local view's. */
  private sharedTotal: number | undefined;
  /** Digests other replicas are reading → until when (epoch ms), as of the round's start. */
  private remotePins = new Map<string, number>();
  private readonly pinned = new Map<string, number>();
  /** Names this replica's in-use marks. */
  private readonly replica = randomUUID();
  /** The Redis lifetime this replica's view went into (usage:epoch); a new one gets it again. */
  private epoch: string | undefined;
  private readonly pinTimer: NodeJS.Timeout;
  private readonly keys;

  constructor(
    private readonly redis: ClusterRedis,
    now: () => number = Date.now,
  ) {
    super(now);
    const key = (name: string) => redis.key('usage', name);
    this.keys = { size: key('size'), access: key('access'), total: key('total'), inuse: key('inuse'), lease: key('lease'), epoch: key('epoch') };
    this.pinTimer = setInterval(() => this.refreshPins(), PIN_REFRESH_MS);
    this.pinTimer.unref();
  }

  override get totalBytes(): number {
    return this.sharedTotal ?? this.bytes;
  }

  override add(digest: string, size: number, lastAccess = this.now()): void {
    this.sharedTotal = undefined; // until the next refresh, the local view counts this blob
    super.add(digest, size, lastAccess);
    this.send('usage', (c) => c.eval(RECORD, 3, this.keys.size, this.keys.access, this.keys.total, digest, size, lastAccess));
  }

  /**
   * Sent whether or not the local view holds the blob: a blob another replica fetched since this
   * one's last listing or round is served here all the same, and its use is the cluster's (XX:
   * only a blob the shared index has a size for).
   */
  override touch(digest: string): void {
    super.touch(digest);
    this.send('usage', (c) => c.zadd(this.keys.access, 'XX', 'GT', this.now(), digest));
  }

  override remove(digest: string): void {
    super.remove(digest);
    this.send('usage', (c) => c.eval(REMOVE, 3, this.keys.size, this.keys.access, this.keys.total, digest));
  }

  /** Pinned here, and marked in use in Redis (refreshed while held) so other replicas' rounds skip it. */
  override pin(digest: string): () => void {
    const release = super.pin(digest);
    this.pinned.set(digest, (this.pinned.get(digest) ?? 0) + 1);
    this.send('pin', (c) => c.zadd(this.keys.inuse, 'GT', this.now() + REMOTE_PIN_MS, this.mark(digest)));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      const n = (this.pinned.get(digest) ?? 1) - 1;
      if (n > 0) return void this.pinned.set(digest, n);
      this.pinned.delete(digest);
      this.send('pin', (c) => c.zrem(this.keys.inuse, this.mark(digest)));
    };
  }

  override isPinned(digest: string): boolean {
    return super.isPinned(digest) || (this.remotePins.get(digest) ?? 0) > this.now();
  }

  /**
   * Reads the cluster's total. A Redis this replica has not seeded since it was new (or restarted
   * empty: its epoch changed) gets this replica's view; every replica does so once per epoch, and
   * the scripts make the union exact.
   */
  override async refresh(): Promise<void> {
    const client = this.redis.client;
    try {
      let [total, epoch] = await client.mget(this.keys.total, this.keys.epoch);
      if (epoch === null) {
        await client.set(this.keys.epoch, randomUUID(), 'NX');
        epoch = await client.get(this.keys.epoch);
      }
      if (epoch !== this.epoch) {
        await this.seed();
        this.epoch = epoch ?? undefined;
        total = await client.get(this.keys.total);
      }
      this.sharedTotal = total === null ? undefined : Number(total);
    } catch (err) {
      this.sharedTotal = undefined;
      this.redis.fallback('eviction', err);
    }
  }

  /** A listing of the bucket corrects Redis as it corrects the local view (gc, purge, warm ran elsewhere). */
  override async reconcile(listed: { digest: string; size: number; modifiedAt: Date }[], listedAt: number): Promise<void> {
    try {
      await this.loadShared();
    } catch (err) {
      this.redis.fallback('eviction', err);
    }
    // The local add/remove calls send each difference on to Redis.
    await super.reconcile(listed, listedAt);
  }

  /**
   * Runs `work` holding the eviction lease, on a view of every replica's blobs loaded from Redis;
   * resolves undefined while another replica holds the lease. With Redis failing, runs it alone
   * on the local view.
   */
  override async exclusive<T>(work: () => Promise<T>): Promise<T | undefined> {
    const token = randomUUID();
    const client = this.redis.client;
    try {
      if ((await client.set(this.keys.lease, token, 'PX', this.redis.leaseTime, 'NX')) === null) return undefined;
      await this.loadShared();
    } catch (err) {
      this.redis.fallback('eviction', err);
      return work();
    }
    const heartbeat = setInterval(
      () => this.send('eviction', (c) => c.eval(EXTEND, 1, this.keys.lease, token, this.redis.leaseTime)),
      this.redis.leaseTime / 3,
    );
    try {
      return await work();
    } finally {
      clearInterval(heartbeat);
      this.send('eviction', (c) => c.eval(RELEASE, 1, this.keys.lease, token));
    }
  }

  override close(): void {
    clearInterval(this.pinTimer);
  }

  /** Replaces the local view with Redis's (the others' blobs join it, what they evicted leaves it). */
  private async loadShared(): Promise<void> {
    // Marks that lapsed go first: the set holds only what someone is reading now.
    await this.redis.client.zremrangebyscore(this.keys.inuse, '-inf', this.now());
    const [access, sizes, inuse] = await Promise.all([
      this.redis.client.zrange(this.keys.access, '0', '-1', 'WITHSCORES'),
      this.redis.client.hgetall(this.keys.size),
      this.redis.client.zrangebyscore(this.keys.inuse, this.now(), '+inf', 'WITHSCORES'),
    ]);
    const shared = new Map<string, BlobUsage>();
    for (let i = 0; i < access.length; i += 2) {
      const digest = access[i]!;
      const size = sizes[digest];
      if (size !== undefined) shared.set(digest, { digest, size: Number(size), lastAccess: Number(access[i + 1]) });
    }
    this.blobs.clear();
    this.bytes = 0;
    for (const [digest, entry] of shared) {
      this.blobs.set(digest, entry);
      this.bytes += entry.size;
    }
    this.sharedTotal = undefined;
    this.remotePins = new Map();
    for (let i = 0; i < inuse.length; i += 2) {
      const digest = inuse[i]!.slice(0, inuse[i]!.lastIndexOf('@'));
      this.remotePins.set(digest, Math.max(this.remotePins.get(digest) ?? 0, Number(inuse[i + 1])));
    }
  }

  /** Writes this replica's whole view to Redis (each entry through the script, so concurrent seeds add up right). */
  private async seed(): Promise<void> {
    const batch = this.redis.client.pipeline();
    for (const b of this.all()) batch.eval(RECORD, 3, this.keys.size, this.keys.access, this.keys.total, b.digest, b.size, b.lastAccess);
    batch.incrby(this.keys.total, 0); // a total even for an empty view
    const results = (await batch.exec()) ?? [];
    const failed = results.map(([err]) => err).find((err) => err !== null);
    if (failed) throw failed;
  }

  private refreshPins(): void {
    if (this.pinned.size === 0) return;
    const until = this.now() + REMOTE_PIN_MS;
    const members = [...this.pinned.keys()].flatMap((d) => [String(until), this.mark(d)]);
    this.send('pin', (c) => c.zadd(this.keys.inuse, 'GT', ...members));
  }

  private mark(digest: string): string {
    return `${digest}@${this.replica}`;
  }

  /** A write that no pull waits for: a failure is counted (the replica goes on alone), never thrown. */
  private send(operation: string, command: (client: ClusterRedis['client']) => Promise<unknown>): void {
    command(this.redis.client).catch((err: unknown) => this.redis.fallback(operation, err));
  }
}

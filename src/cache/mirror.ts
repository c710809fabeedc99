import type { Logger } from 'pino';
import { ClusterLeases } from '../cluster/lease.js';
import type { ClusterRedis } from '../cluster/redis.js';
import { ClusterUsageIndex } from '../cluster/usage.js';
import type { Config } from '../config.js';
import type { StorageDriver } from '../storage/driver.js';
import type { UpstreamRouter } from '../upstream/routing.js';
import { PullThroughBlobs } from './blobs.js';
import { Catalog } from './catalog.js';
import { Evictor, type EvictionLimits } from './eviction.js';
import { resolveLimits } from './limits.js';
import { ManifestStore } from './manifest-store.js';
import { PullThroughManifests } from './manifests.js';
import { PullThroughReferrers } from './referrers.js';
import { PullThroughTags } from './tags.js';
import { UsageIndex } from './usage-index.js';

/** How often access times are written back, so a restart keeps the LRU order. */
const SAVE_USAGE_MS = 60_000;

interface MirrorParts {
  storage: StorageDriver;
  router: UpstreamRouter;
  log: Logger;
  store: ManifestStore;
  now: () => number;
  cluster?: ClusterRedis;
  usage?: UsageIndex;
  evictor?: Evictor;
  limits?: EvictionLimits;
  limitsDescription?: string;
}

/** The pull-through cache as the API sees it: one object per resource family, sharing one store. */
export class MirrorCache {
  readonly manifests: PullThroughManifests;
  readonly blobs: PullThroughBlobs;
  readonly tags: PullThroughTags;
  readonly referrers: PullThroughReferrers;
  readonly catalog: Catalog;
  readonly storage: StorageDriver;
  readonly router: UpstreamRouter;
  /** Cluster mode's Redis (`cluster.redis`); absent: this replica works alone. */
  readonly cluster?: ClusterRedis;
  readonly usage?: UsageIndex;
  readonly evictor?: Evictor;
  /** The limits eviction keeps to (maxSize resolved); undefined: unbounded. */
  readonly limits?: EvictionLimits;
  /** One line for the startup log. */
  readonly limitsDescription: string;
  private readonly log: Logger;
  private readonly saver?: NodeJS.Timeout;

  private constructor(parts: MirrorParts) {
    this.storage = parts.storage;
    this.router = parts.router;
    this.cluster = parts.cluster;
    this.log = parts.log;
    this.usage = parts.usage;
    this.evictor = parts.evictor;
    this.limits = parts.limits;
    this.limitsDescription = parts.limitsDescription ?? 'unbounded';
    // Cluster mode: blob and manifest fetches and tag revalidations run once across replicas.
    const leases = parts.cluster ? new ClusterLeases(parts.cluster, parts.log) : undefined;
    this.manifests = new PullThroughManifests(parts.store, parts.log, parts.usage, parts.now, leases);
    this.blobs = new PullThroughBlobs(parts.storage, parts.log, parts.usage, leases);
    this.tags = new PullThroughTags(parts.store, parts.log);
    this.referrers = new PullThroughReferrers(parts.storage, this.manifests, parts.log, parts.now);
    this.catalog = new Catalog(parts.storage, parts.router);
    if (parts.usage) {
      this.saver = setInterval(() => void this.saveUsage(), SAVE_USAGE_MS);
      this.saver.unref();
    }
  }

  /**
   * Loads the usage index (one listing of the blobs) only when the cache is bounded. `now` is the
   * clock for tag TTLs and access times (tests move it). `cluster`: Redis, when replicas coordinate.
   */
  static async open(
    storage: StorageDriver,
    router: UpstreamRouter,
    log: Logger,
    config: Config['cache'],
    now: () => number = Date.now,
    cluster?: ClusterRedis,
  ): Promise<MirrorCache> {
    const store = new ManifestStore(storage);
    let usage: UsageIndex | undefined;
    // In cluster mode sizes and access times are the whole cluster's, in Redis (src/cluster/usage.ts).
    const loadUsage = async () => (usage ??= await (cluster ? new ClusterUsageIndex(cluster, now) : new UsageIndex(now)).fill(storage, log)).totalBytes;
    const limits = await resolveLimits(storage, config, loadUsage);
    if (!limits) return new MirrorCache({ storage, router, log, store, now, cluster });
    await loadUsage();
    const evictor = new Evictor(storage, store, usage!, limits, log, now);
    usage!.onGrow = () => evictor.check();
    evictor.start();
    evictor.check();
    return new MirrorCache({ storage, router, log, store, now, cluster, usage, evictor, limits, limitsDescription: limits.description });
  }

  /** Stops background work and saves access times. */
  async close(): Promise<void> {
    clearInterval(this.saver);
    await this.evictor?.stop();
    this.usage?.close();
    await this.saveUsage();
  }

  private async saveUsage(): Promise<void> {
    await this.usage?.save(this.storage).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'cannot save access times'));
  }
}

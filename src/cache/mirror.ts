import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { StorageDriver } from '../storage/driver.js';
import type { UpstreamRouter } from '../upstream/routing.js';
import { PullThroughBlobs } from './blobs.js';
import { Catalog } from './catalog.js';
import { Evictor } from './eviction.js';
import { resolveLimits } from './limits.js';
import { ManifestStore } from './manifest-store.js';
import { PullThroughManifests } from './manifests.js';
import { PullThroughTags } from './tags.js';
import { UsageIndex } from './usage-index.js';

/** How often access times are written back, so a restart keeps the LRU order. */
const SAVE_USAGE_MS = 60_000;

/** The pull-through cache as the API sees it: one object per resource family, sharing one store. */
export class MirrorCache {
  readonly manifests: PullThroughManifests;
  readonly blobs: PullThroughBlobs;
  readonly tags: PullThroughTags;
  readonly catalog: Catalog;
  private readonly saver?: NodeJS.Timeout;

  private constructor(
    readonly storage: StorageDriver,
    readonly router: UpstreamRouter,
    private readonly log: Logger,
    readonly usage?: UsageIndex,
    readonly evictor?: Evictor,
    /** One line for the startup log. */
    readonly limitsDescription = 'unbounded',
    now: () => number = Date.now,
  ) {
    const store = new ManifestStore(storage);
    this.manifests = new PullThroughManifests(store, log, usage, now);
    this.blobs = new PullThroughBlobs(storage, log, usage);
    this.tags = new PullThroughTags(store, log);
    this.catalog = new Catalog(storage, router);
    if (usage) {
      this.saver = setInterval(() => void this.saveUsage(), SAVE_USAGE_MS);
      this.saver.unref();
    }
  }

  /**
   * Loads the usage index (one listing of the blobs) only when the cache is bounded. `now` is the
   * clock for tag TTLs and access times (tests move it).
   */
  static async open(
    storage: StorageDriver,
    router: UpstreamRouter,
    log: Logger,
    config: Config['cache'],
    now: () => number = Date.now,
  ): Promise<MirrorCache> {
    let usage: UsageIndex | undefined;
    const loadUsage = async () => (usage ??= await UsageIndex.load(storage, log, now)).totalBytes;
    const limits = await resolveLimits(storage, config, loadUsage);
    if (!limits) return new MirrorCache(storage, router, log, undefined, undefined, undefined, now);
    await loadUsage();
    const evictor = new Evictor(storage, usage!, limits, log, now);
    usage!.onGrow = () => evictor.check();
    evictor.check();
    return new MirrorCache(storage, router, log, usage, evictor, limits.description, now);
  }

  /** Stops background work and saves access times. */
  async close(): Promise<void> {
    clearInterval(this.saver);
    await this.evictor?.idle();
    await this.saveUsage();
  }

  private async saveUsage(): Promise<void> {
    await this.usage?.save(this.storage).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'cannot save access times'));
  }
}

import type { Config } from '../config.js';
import type { StorageDriver } from '../storage/driver.js';
import type { EvictionLimits } from './eviction.js';

/** Share of the free space at start that `maxSize: auto` lets the cache grow into. */
const AUTO_SHARE = 0.8;

export interface ResolvedLimits extends EvictionLimits {
  /** For the startup log: where the numbers came from. */
  description: string;
}

/**
 * The eviction limits for this run (size, free space, age), or undefined for an unbounded cache
 * (no index is kept then).
 * `auto` needs the bytes already cached, so it is resolved with the index's total once loaded.
 */
export async function resolveLimits(storage: StorageDriver, config: Config['cache'], cachedBytes: () => Promise<number>): Promise<ResolvedLimits | undefined> {
  const size = await resolveSize(storage, config, cachedBytes);
  if (config.maxAge === undefined) return size;
  const age = `maxAge ${Math.round(config.maxAge / 3_600_000)}h`;
  return { ...size, maxAgeMs: config.maxAge, description: size ? `${size.description}, ${age}` : age };
}

async function resolveSize(storage: StorageDriver, config: Config['cache'], cachedBytes: () => Promise<number>): Promise<ResolvedLimits | undefined> {
  const minFreeBytes = config.minFreeSpace;
  if (config.maxSize === 'none') {
    return minFreeBytes === undefined ? undefined : { minFreeBytes, description: `minFreeSpace ${gib(minFreeBytes)}` };
  }
  if (config.maxSize !== 'auto') {
    return { maxBytes: config.maxSize, minFreeBytes, description: `maxSize ${gib(config.maxSize)}` };
  }
  const space = await storage.space();
  if (!space) {
    return minFreeBytes === undefined ? undefined : { minFreeBytes, description: `minFreeSpace ${gib(minFreeBytes)}` };
  }
  const cached = await cachedBytes();
  const maxBytes = Math.floor(cached + AUTO_SHARE * space.freeBytes);
  return {
    maxBytes,
    minFreeBytes,
    description: `maxSize ${gib(maxBytes)} (auto: ${gib(cached)} cached + 80% of ${gib(space.freeBytes)} free at start)`,
  };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

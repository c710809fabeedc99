import { LRUCache } from 'lru-cache';
import type { RegistryError } from '../oci/errors.js';

/** Enough for every typo a CI fleet retries; each entry is one small error object. */
const MAX_ENTRIES = 10_000;

/**
 * Upstream 404s for manifests (MANIFEST_UNKNOWN, and NAME_UNKNOWN for a repository the upstream
 * does not have or will not grant), remembered for the upstream's notFoundTTL, so a CI loop retrying a
 * missing tag costs the upstream (and Docker Hub's rate limit) one request per TTL. The error is
 * kept as it was answered, so the cached 404 is the same answer.
 */
export class NotFoundCache {
  private readonly entries = new LRUCache<string, { error: RegistryError; until: number }>({ max: MAX_ENTRIES });

  constructor(private readonly now: () => number = Date.now) {}

  remember(key: string, error: RegistryError, ttl: number): void {
    if (ttl > 0) this.entries.set(key, { error, until: this.now() + ttl });
  }

  /** The remembered 404, while it lasts. */
  recall(key: string): RegistryError | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() < entry.until) return entry.error;
    this.entries.delete(key);
    return undefined;
  }
}

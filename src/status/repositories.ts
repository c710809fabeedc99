import { listManifestDigests, listRepositories } from '../cache/inventory.js';
import { referencedDigests } from '../cache/references.js';
import type { UsageIndex } from '../cache/usage-index.js';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';

export interface RepositorySummary {
  upstream: string;
  /** The name at the upstream, e.g. `library/alpine`. */
  name: string;
  tags: string[];
  /** Manifests linked here (an index and its platforms' manifests count one each). */
  manifests: number;
  /** Stored bytes of everything its manifests reach: manifests, configs, layers. Blobs shared with other repositories count in each. */
  bytes: number;
  /**
   * The last time one of its manifests was served or stored (ISO 8601): access times when the cache
   * is bounded (kept across restarts), else when its tags were last fetched or revalidated.
   */
  lastPulled: string | null;
}

/**
 * What is cached, per repository, read from the repositories tree, the (small) manifest bodies
 * and a stat per blob: a walk whose cost grows with the cache, so callers keep the answer a while.
 */
export async function summarizeRepositories(storage: StorageDriver, usage?: UsageIndex): Promise<RepositorySummary[]> {
  const sizes = new Map<string, number>();
  const sizeOf = async (digest: string): Promise<number> => {
    let size = sizes.get(digest) ?? usage?.get(digest)?.size;
    size ??= (await storage.stat(paths.blob(parseDigest(digest))))?.size ?? 0;
    sizes.set(digest, size);
    return size;
  };
  const children = new Map<string, string[]>();
  const referenced = async (digest: string): Promise<string[]> => {
    let refs = children.get(digest);
    if (!refs) {
      const body = await storage.get(paths.blob(parseDigest(digest)));
      refs = body ? referencedDigests(body).map((d) => d.value) : [];
      children.set(digest, refs);
    }
    return refs;
  };

  const summaries: RepositorySummary[] = [];
  for (const repo of await listRepositories(storage)) {
    const manifests = (await listManifestDigests(storage, repo)).map((d) => d.value);
    const linked = new Set(manifests);
    const reached = new Set<string>();
    const pending = [...manifests];
    while (pending.length > 0) {
      const digest = pending.pop()!;
      if (reached.has(digest)) continue;
      reached.add(digest);
      // Only manifests have children; configs and layers are not read (their bodies are not JSON we need).
      if (linked.has(digest)) pending.push(...(await referenced(digest)));
    }
    let bytes = 0;
    for (const digest of reached) bytes += await sizeOf(digest);
    const tags = await storage.list(paths.tags(repo.upstream, repo.name));
    summaries.push({ ...repo, tags, manifests: manifests.length, bytes, lastPulled: await lastPulled(storage, repo, tags, manifests, usage) });
  }
  return summaries.sort((a, b) => (b.lastPulled ?? '').localeCompare(a.lastPulled ?? '') || a.name.localeCompare(b.name));
}

async function lastPulled(
  storage: StorageDriver,
  repo: { upstream: string; name: string },
  tags: string[],
  manifests: string[],
  usage?: UsageIndex,
): Promise<string | null> {
  let latest = 0;
  if (usage) {
    for (const digest of manifests) latest = Math.max(latest, usage.get(digest)?.lastAccess ?? 0);
  } else {
    for (const tag of tags) latest = Math.max(latest, (await storage.stat(paths.tag(repo.upstream, repo.name, tag)))?.modifiedAt.getTime() ?? 0);
  }
  return latest > 0 ? new Date(latest).toISOString() : null;
}

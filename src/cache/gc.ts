import type { Digest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { ManifestStore } from './manifest-store.js';
import { listBlobs } from '../storage/blob-listing.js';
import { listManifestDigests, listRepositories, type CachedRepository } from './inventory.js';
import { referencedDigests } from './references.js';

export interface GcOptions {
  dryRun: boolean;
  /**
   * Blobs younger than this are kept even if unreferenced: a pull running while gc marks may have
   * stored a manifest after its repository was walked, and its layers after that.
   */
  graceMs: number;
  now?: number;
}

export interface GcReport {
  repositories: number;
  manifests: number;
  referenced: number;
  removed: { digest: string; size: number }[];
  freedBytes: number;
  keptYoung: number;
  /** Links and tags whose manifest bytes were gone, removed so nothing points at a missing blob. */
  danglingRemoved: number;
}

/**
 * Mark and sweep by digest: every blob referenced by a cached manifest (an index's children,
 * their configs and layers, transitively) is kept; other blobs older than the grace period go.
 * Blobs are shared across repositories, so only the union of all references decides.
 */
export async function collectGarbage(storage: StorageDriver, opts: GcOptions): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const marked = new Set<string>();
  const report: GcReport = { repositories: 0, manifests: 0, referenced: 0, removed: [], freedBytes: 0, keptYoung: 0, danglingRemoved: 0 };

  const mark = async (digest: Digest): Promise<boolean> => {
    if (marked.has(digest.value)) return true;
    const body = await storage.get(paths.blob(digest));
    if (!body) return false;
    marked.add(digest.value);
    for (const child of referencedDigests(body)) {
      if (!marked.has(child.value)) {
        // Children may be manifests (an index) or plain blobs; mark() reads each once.
        await mark(child);
      }
    }
    return true;
  };

  for (const repo of await listRepositories(storage)) {
    report.repositories += 1;
    for (const digest of await listManifestDigests(storage, repo)) {
      report.manifests += 1;
      if (!(await mark(digest))) report.danglingRemoved += await dropLink(storage, repo, digest, opts.dryRun);
    }
    report.danglingRemoved += await dropDanglingTags(storage, repo, marked, opts.dryRun);
  }
  report.referenced = marked.size;

  for await (const digest of listBlobs(storage)) {
    if (marked.has(digest.value)) continue;
    const info = await storage.stat(paths.blob(digest));
    if (!info) continue;
    if (now - info.modifiedAt.getTime() < opts.graceMs) {
      report.keptYoung += 1;
      continue;
    }
    if (!opts.dryRun) await storage.delete(paths.blob(digest));
    report.removed.push({ digest: digest.value, size: info.size });
    report.freedBytes += info.size;
  }
  return report;
}

async function dropLink(storage: StorageDriver, repo: CachedRepository, digest: Digest, dryRun: boolean): Promise<number> {
  if (!dryRun) await storage.delete(paths.manifestLink(repo.upstream, repo.name, digest));
  return 1;
}

/** Tags whose manifest is no longer stored: a later pull of the tag refetches it cleanly. */
async function dropDanglingTags(storage: StorageDriver, repo: CachedRepository, marked: Set<string>, dryRun: boolean): Promise<number> {
  const store = new ManifestStore(storage);
  let dropped = 0;
  for (const tag of await store.listTags(repo.upstream, repo.name)) {
    const record = await store.getTag(repo.upstream, repo.name, tag);
    if (record && marked.has(record.digest)) continue;
    if (!dryRun) await store.deleteTag(repo.upstream, repo.name, tag);
    dropped += 1;
  }
  return dropped;
}

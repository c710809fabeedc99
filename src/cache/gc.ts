import { parseDigest, type Digest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { GcJournal, MARKER_TRUST_MS } from '../gc/journal.js';
import { ManifestStore } from './manifest-store.js';
import { listStoredBlobs } from '../storage/blob-listing.js';
import { listManifestDigests, listRepositories, type CachedRepository } from './inventory.js';
import { referencedDescriptors } from './references.js';

export interface GcOptions {
  dryRun: boolean;
  /** Unreferenced blobs younger than this are kept: a pull by digest with no manifest cached. */
  graceMs: number;
  now?: number;
  /** How long to wait after the marker is up before marking (servers trust what they saw of it this long). */
  settleMs?: number;
  /**
   * Purge: sweep only these digests, and leave links and tags alone. With `without`, those links
   * (`upstream/name@digest`) count as gone, so a dry run reports what removing them would free.
   */
  only?: Set<string>;
  without?: Set<string>;
}

export interface GcReport {
  repositories: number;
  manifests: number;
  referenced: number;
  removed: { digest: string; size: number }[];
  freedBytes: number;
  keptYoung: number;
  /** Unreferenced at the mark, then reached by a manifest a server stored during the gc: kept. */
  keptLive: number;
  /** Links and tags whose manifest bytes were gone, removed so nothing points at a missing blob. */
  danglingRemoved: number;
}

/** Deletions between two readings of the journal. */
const SWEEP_BATCH = 50;

/**
 * Mark and sweep by digest: every blob referenced by a cached manifest (an index's children,
 * their configs and layers, transitively) is kept; other blobs older than the grace period go.
 * Blobs are shared across repositories, so only the union of all references decides. Only
 * manifests are read (linked ones, and what a descriptor's media type names a manifest), never
 * layers. Safe beside running servers through the GcJournal handshake.
 */
export async function collectGarbage(storage: StorageDriver, opts: GcOptions): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const report: GcReport = { repositories: 0, manifests: 0, referenced: 0, removed: [], freedBytes: 0, keptYoung: 0, keptLive: 0, danglingRemoved: 0 };
  const run = opts.dryRun ? undefined : await GcJournal.begin(storage);
  try {
    if (run) await new Promise((resolve) => setTimeout(resolve, opts.settleMs ?? MARKER_TRUST_MS + 500));
    const repos = await listRepositories(storage);
    const linked = new Map<CachedRepository, Digest[]>();
    for (const repo of repos) {
      const digests = await listManifestDigests(storage, repo);
      linked.set(
        repo,
        digests.filter((d) => !opts.without?.has(`${repo.upstream}/${repo.name}@${d.value}`)),
      );
    }
    const marker = new Marker(storage, new Set([...linked.values()].flat().map((d) => d.value)));

    for (const repo of repos) {
      report.repositories += 1;
      for (const digest of linked.get(repo)!) {
        report.manifests += 1;
        if (!(await marker.manifest(digest)) && !opts.only) report.danglingRemoved += await dropLink(storage, repo, digest, opts.dryRun);
      }
      if (!opts.only) report.danglingRemoved += await dropDanglingTags(storage, repo, opts.dryRun);
    }
    report.referenced = marker.marked.size;

    const candidates = (await listStoredBlobs(storage)).filter((b) => !marker.marked.has(b.digest.value) && (opts.only?.has(b.digest.value) ?? true));
    for (let i = 0; i < candidates.length; i += SWEEP_BATCH) {
      // What servers stored since the marker went up, read right before the deletions it guards.
      for (const digest of await GcJournal.liveManifests(storage)) await marker.manifest(digest);
      for (const blob of candidates.slice(i, i + SWEEP_BATCH)) {
        if (marker.marked.has(blob.digest.value)) {
          report.keptLive += 1;
          continue;
        }
        if (now - blob.modifiedAt.getTime() < opts.graceMs) {
          report.keptYoung += 1;
          continue;
        }
        if (!opts.dryRun) await storage.delete(paths.blob(blob.digest));
        report.removed.push({ digest: blob.digest.value, size: blob.size });
        report.freedBytes += blob.size;
      }
    }
  } finally {
    if (run) await GcJournal.end(storage, run);
  }
  return report;
}

/** The mark set, reading a blob only when it is known to be a manifest. */
class Marker {
  readonly marked = new Set<string>();

  constructor(
    private readonly storage: StorageDriver,
    /** Digests some repository links as a manifest. */
    private readonly linked: Set<string>,
  ) {}

  /** Marks a manifest and what it reaches; false if its bytes are not stored. */
  async manifest(digest: Digest): Promise<boolean> {
    if (this.marked.has(digest.value)) return true;
    const body = await this.storage.get(paths.blob(digest));
    if (!body) return false;
    this.marked.add(digest.value);
    for (const child of referencedDescriptors(body)) {
      if (child.manifest || this.linked.has(child.digest.value)) await this.manifest(child.digest);
      else this.marked.add(child.digest.value);
    }
    return true;
  }
}

async function dropLink(storage: StorageDriver, repo: CachedRepository, digest: Digest, dryRun: boolean): Promise<number> {
  if (!dryRun) await storage.delete(paths.manifestLink(repo.upstream, repo.name, digest));
  return 1;
}

/**
 * Tags whose manifest bytes are no longer stored: a later pull of the tag refetches it cleanly.
 * Decided on the bytes as they are now, so a tag a server wrote during the walk (its manifest is
 * stored first) is never taken for dangling.
 */
async function dropDanglingTags(storage: StorageDriver, repo: CachedRepository, dryRun: boolean): Promise<number> {
  const store = new ManifestStore(storage);
  let dropped = 0;
  for (const tag of await store.listTags(repo.upstream, repo.name)) {
    const record = await store.getTag(repo.upstream, repo.name, tag);
    if (record && (await manifestStored(storage, record.digest))) continue;
    if (!dryRun) await store.deleteTag(repo.upstream, repo.name, tag);
    dropped += 1;
  }
  return dropped;
}

async function manifestStored(storage: StorageDriver, digest: string): Promise<boolean> {
  try {
    return (await storage.stat(paths.blob(parseDigest(digest)))) !== undefined;
  } catch {
    return false; // a malformed digest in a torn record: nothing to keep it for
  }
}

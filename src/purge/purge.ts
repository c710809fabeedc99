import { collectGarbage, type GcReport } from '../cache/gc.js';
import { readImages } from '../cache/image-graph.js';
import { ManifestStore } from '../cache/manifest-store.js';
import { parseDigest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';

export interface PurgeTarget {
  upstream: string;
  /** The repository name as stored, e.g. `library/alpine`. */
  name: string;
  /** A tag or a digest. */
  reference: string;
}

export interface PurgeReport {
  /** The tags and links removed (or that would be), as `upstream/name:tag` and `upstream/name@digest`. */
  unlinked: string[];
  sweep: GcReport;
}

/**
 * Removes one cached image or tag: its tag records, its links in that repository (when no tag
 * there still points at it), then the blobs of it that no other cached image needs, through gc's
 * sweep, so it is as safe beside running servers as gc is. Throws when the image is not cached.
 */
export async function purge(storage: StorageDriver, targets: PurgeTarget[], opts: { dryRun: boolean; settleMs?: number }): Promise<PurgeReport> {
  const store = new ManifestStore(storage);
  const images = await readImages(storage);
  const unlinked: string[] = [];
  const without = new Set<string>();
  const only = new Set<string>();
  for (const t of targets) {
    const byDigest = t.reference.includes(':');
    const digest = byDigest ? t.reference : (await store.getTag(t.upstream, t.name, t.reference))?.digest;
    const image = images.find((i) => i.manifest === digest && i.links.some((l) => l.repo.upstream === t.upstream && l.repo.name === t.name));
    if (!digest || !image) throw new Error(`${t.upstream}/${t.name}${byDigest ? '@' : ':'}${t.reference}: not cached (or part of an index: purge the index)`);
    const tags = await store.listTags(t.upstream, t.name);
    const pointing: string[] = [];
    for (const tag of tags) if ((await store.getTag(t.upstream, t.name, tag))?.digest === digest) pointing.push(tag);
    const dropTags = byDigest ? pointing : [t.reference];
    for (const tag of dropTags) {
      if (!opts.dryRun) await store.deleteTag(t.upstream, t.name, tag);
      unlinked.push(`${t.upstream}/${t.name}:${tag}`);
    }
    // Another tag of the repository still names it: only the tag goes.
    if (pointing.some((tag) => !dropTags.includes(tag))) continue;
    for (const link of image.links.filter((l) => l.repo.upstream === t.upstream && l.repo.name === t.name)) {
      if (!opts.dryRun) await store.unlink(t.upstream, t.name, parseDigest(link.digest));
      without.add(`${t.upstream}/${t.name}@${link.digest}`);
      unlinked.push(`${t.upstream}/${t.name}@${link.digest}`);
    }
    for (const d of image.closure) only.add(d);
  }
  const sweep = await collectGarbage(storage, { dryRun: opts.dryRun, graceMs: 0, only, without, settleMs: opts.settleMs });
  return { unlinked, sweep };
}

import { parseDigest, type Digest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';
import { MANIFESTS_DIR, REPOSITORIES_ROOT, TAGS_DIR, paths, upstreamOfFolder } from '../storage/paths.js';

export interface CachedRepository {
  upstream: string;
  name: string;
}

/**
 * Walks of the repositories tree (names, links, tag records), for the catalog, gc and eviction.
 * Never reads blob contents; the blob listing is storage/blob-listing.ts.
 */
export async function listRepositories(storage: StorageDriver): Promise<CachedRepository[]> {
  const found: CachedRepository[] = [];
  const walk = async (upstream: string, key: string, name: string): Promise<void> => {
    const children = await storage.list(key);
    if (name && (children.includes(MANIFESTS_DIR) || children.includes(TAGS_DIR))) found.push({ upstream, name });
    for (const child of children) {
      if (!child.startsWith('_')) await walk(upstream, `${key}/${child}`, name ? `${name}/${child}` : child);
    }
  };
  for (const folder of await storage.list(REPOSITORIES_ROOT)) await walk(upstreamOfFolder(folder), `${REPOSITORIES_ROOT}/${folder}`, '');
  return found;
}

/** Digests of the manifests linked into a repository. */
export async function listManifestDigests(storage: StorageDriver, repo: CachedRepository): Promise<Digest[]> {
  const hexes = await storage.list(`${paths.repository(repo.upstream, repo.name)}/${MANIFESTS_DIR}/sha256`);
  return hexes.flatMap((hex) => {
    try {
      return [parseDigest(`sha256:${hex}`)];
    } catch {
      return [];
    }
  });
}

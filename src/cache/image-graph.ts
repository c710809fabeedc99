import type { StorageDriver } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { listManifestDigests, listRepositories, type CachedRepository } from './inventory.js';
import { referencedDescriptors } from './references.js';

/** A cached image: a top-level manifest and everything it reaches, with where it is linked. */
export interface CachedImage {
  manifest: string;
  /** The manifest itself, child manifests, configs and layers that are stored. */
  closure: Set<string>;
  /** The manifests of the closure (the top one and an index's children): what a pull asks for first. */
  manifests: Set<string>;
  /** Repositories linking any manifest of the closure. */
  links: { repo: CachedRepository; digest: string }[];
}

/**
 * The cached images, read from the repositories tree and the (small) bodies of linked manifests;
 * layers are never read. A manifest that is some stored index's child belongs to that index's
 * image, so a multi-arch image is evicted as a whole.
 */
export async function readImages(storage: StorageDriver): Promise<CachedImage[]> {
  const refs = new Map<string, string[]>();
  const links = new Map<string, { repo: CachedRepository; digest: string }[]>();
  for (const repo of await listRepositories(storage)) {
    for (const digest of await listManifestDigests(storage, repo)) {
      const at = links.get(digest.value) ?? [];
      at.push({ repo, digest: digest.value });
      links.set(digest.value, at);
      if (refs.has(digest.value)) continue;
      const body = await storage.get(paths.blob(digest));
      refs.set(digest.value, body ? referencedDescriptors(body).map((d) => d.digest.value) : []);
    }
  }
  const children = new Set([...refs.values()].flat().filter((d) => refs.has(d)));
  const images: CachedImage[] = [];
  for (const manifest of refs.keys()) {
    if (children.has(manifest)) continue;
    const closure = new Set<string>();
    const visit = (digest: string) => {
      if (closure.has(digest)) return;
      closure.add(digest);
      for (const child of refs.get(digest) ?? []) visit(child);
    };
    visit(manifest);
    const manifests = new Set([...closure].filter((d) => refs.has(d)));
    images.push({ manifest, closure, manifests, links: [...closure].flatMap((d) => links.get(d) ?? []) });
  }
  return images;
}

import type { ManifestStore, StoredManifest, TagRecord } from '../cache/manifest-store.js';
import { parseDigest } from '../oci/digest.js';
import type { Route } from '../upstream/routing.js';

/**
 * What a replica that waited for another's manifest fetch reads once that one committed: the
 * manifest by digest, or the one the tag names now. Undefined: storage does not hold it (the
 * holder could not store it), so the waiter fetches it itself.
 */
export async function fetchedBy(store: ManifestStore, route: Route, ref: string): Promise<{ value: StoredManifest } | undefined> {
  const up = route.upstream.name;
  // A digest has an algorithm and a colon; a tag never does.
  const digest = ref.includes(':') ? ref : (await store.getTag(up, route.name, ref))?.digest;
  const manifest = digest ? await store.getByDigest(up, route.name, parseDigest(digest)) : undefined;
  return manifest ? { value: manifest } : undefined;
}

/**
 * What another replica's revalidation of a tag left in storage, as `revalidate` answers: the
 * record checked after `record` was (confirmed), or `undefined` when the tag moved (the caller
 * then fetches the new manifest, which that replica stored). Undefined overall: nothing newer to
 * read (its HEAD failed, or the tag was forgotten), so the waiter revalidates itself.
 */
export async function revalidatedBy(store: ManifestStore, route: Route, tag: string, record: TagRecord): Promise<{ value: TagRecord | undefined } | undefined> {
  const current = await store.getTag(route.upstream.name, route.name, tag);
  if (!current) return undefined;
  if (current.digest !== record.digest) return { value: undefined };
  return current.checkedAt > record.checkedAt ? { value: current } : undefined;
}

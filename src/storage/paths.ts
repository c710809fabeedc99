import type { Digest } from '../oci/digest.js';

/**
 * The whole key layout. No other module builds storage keys.
 *
 *   blobs/sha256/<2 hex>/<hex>                                   blob or manifest bytes
 *   repositories/<upstream>/<name>/_manifests/sha256/<hex>       {"mediaType"}: name ↔ digest link
 *   repositories/<upstream>/<name>/_tags/<tag>                   {"digest","mediaType","size","checkedAt"}
 *   repositories/<upstream>/<name>/_referrers/sha256/<hex>       {"manifests","via","checkedAt"}: referrers of a subject
 *   _state/usage.json                                            {"sha256:…": last access, epoch s}: eviction's LRU order
 *
 * `_manifests` and `_tags` start with an underscore, which no repository path component can
 * (OCI name grammar), so a walk of `repositories/` can tell names from metadata. <upstream> is
 * the upstream's name with a port's `:` as `_` (upstreamFolder): `registry.local:5000` is
 * `repositories/registry.local_5000/…`.
 */
export const BLOBS_ROOT = 'blobs';
export const REPOSITORIES_ROOT = 'repositories';
export const MANIFESTS_DIR = '_manifests';
export const TAGS_DIR = '_tags';
export const REFERRERS_DIR = '_referrers';
export const USAGE_STATE = '_state/usage.json';

/**
 * An upstream's folder: its name (a host, with an optional `:port`) with the `:` as `_`. Keys allow
 * no `:` (S3 and Windows filesystems mind it); `_` is never in a host name, so the folder maps back
 * to one name only, and names without a port (every cache written before) keep their folder.
 */
export function upstreamFolder(upstream: string): string {
  return upstream.replace(':', '_');
}

/** The upstream name a folder under `repositories/` stands for (the inverse of upstreamFolder). */
export function upstreamOfFolder(folder: string): string {
  return folder.replace('_', ':');
}

export const paths = {
  blob: (digest: Digest) => `${BLOBS_ROOT}/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}`,
  repository: (upstream: string, name: string) => `${REPOSITORIES_ROOT}/${upstreamFolder(upstream)}/${name}`,
  manifestLink: (upstream: string, name: string, digest: Digest) =>
    `${REPOSITORIES_ROOT}/${upstreamFolder(upstream)}/${name}/${MANIFESTS_DIR}/${digest.algorithm}/${digest.hex}`,
  tags: (upstream: string, name: string) => `${REPOSITORIES_ROOT}/${upstreamFolder(upstream)}/${name}/${TAGS_DIR}`,
  tag: (upstream: string, name: string, tag: string) => `${REPOSITORIES_ROOT}/${upstreamFolder(upstream)}/${name}/${TAGS_DIR}/${tag}`,
  referrers: (upstream: string, name: string, subject: Digest) =>
    `${REPOSITORIES_ROOT}/${upstreamFolder(upstream)}/${name}/${REFERRERS_DIR}/${subject.algorithm}/${subject.hex}`,
};

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
 * (OCI name grammar), so a walk of `repositories/` can tell names from metadata.
 */
export const BLOBS_ROOT = 'blobs';
export const REPOSITORIES_ROOT = 'repositories';
export const MANIFESTS_DIR = '_manifests';
export const TAGS_DIR = '_tags';
export const REFERRERS_DIR = '_referrers';
export const USAGE_STATE = '_state/usage.json';

export const paths = {
  blob: (digest: Digest) => `${BLOBS_ROOT}/${digest.algorithm}/${digest.hex.slice(0, 2)}/${digest.hex}`,
  repository: (upstream: string, name: string) => `${REPOSITORIES_ROOT}/${upstream}/${name}`,
  manifestLink: (upstream: string, name: string, digest: Digest) =>
    `${REPOSITORIES_ROOT}/${upstream}/${name}/${MANIFESTS_DIR}/${digest.algorithm}/${digest.hex}`,
  tags: (upstream: string, name: string) => `${REPOSITORIES_ROOT}/${upstream}/${name}/${TAGS_DIR}`,
  tag: (upstream: string, name: string, tag: string) => `${REPOSITORIES_ROOT}/${upstream}/${name}/${TAGS_DIR}/${tag}`,
  referrers: (upstream: string, name: string, subject: Digest) =>
    `${REPOSITORIES_ROOT}/${upstream}/${name}/${REFERRERS_DIR}/${subject.algorithm}/${subject.hex}`,
  upstreamRoot: (upstream: string) => `${REPOSITORIES_ROOT}/${upstream}`,
};

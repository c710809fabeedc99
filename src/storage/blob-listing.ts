import { parseDigest, type Digest } from '../oci/digest.js';
import type { ObjectInfo, StorageDriver } from './driver.js';
import { BLOBS_ROOT } from './paths.js';

export interface StoredBlob extends ObjectInfo {
  digest: Digest;
}

/**
 * Every stored blob (manifest bytes included) with its size and mtime, from one listing of
 * blobs/: no request per blob, so a start or a gc on S3 costs the listing's pages alone.
 */
export async function listStoredBlobs(storage: StorageDriver): Promise<StoredBlob[]> {
  const found: StoredBlob[] = [];
  for (const o of await storage.listObjects(`${BLOBS_ROOT}/sha256`)) {
    const [prefix, hex, ...rest] = o.key.split('/');
    if (rest.length > 0 || !hex || hex.slice(0, 2) !== prefix) continue;
    try {
      found.push({ digest: parseDigest(`sha256:${hex}`), size: o.size, modifiedAt: o.modifiedAt });
    } catch {
      // a stray file that is not a digest: left alone by everyone
    }
  }
  return found;
}

/**
 * Calls `visit` with the size and mtime of every stored blob: the walk done once at start by the
 * usage index and the storage gauges. `stopped()` ends it early.
 */
export async function forEachStoredBlob(
  storage: StorageDriver,
  visit: (digest: Digest, info: ObjectInfo) => void,
  stopped: () => boolean = () => false,
): Promise<void> {
  for (const blob of await listStoredBlobs(storage)) {
    if (stopped()) break;
    visit(blob.digest, blob);
  }
}

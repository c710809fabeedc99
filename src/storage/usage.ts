import type { StorageDriver } from './driver.js';
import { forEachStoredBlob } from './blob-listing.js';

/**
 * Objects and bytes under blobs/ last modified before `before`: the starting value of the
 * stored-blob gauges, counted once at start. Blobs committed after `before` are left out because
 * withDriverBase counts those as they commit. `stopped()` ends the walk early (shutdown).
 */
export async function countStoredBlobs(
  storage: StorageDriver,
  before: Date,
  stopped: () => boolean = () => false,
): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  await forEachStoredBlob(
    storage,
    (_digest, info) => {
      if (info.modifiedAt >= before) return;
      objects += 1;
      bytes += info.size;
    },
    stopped,
  );
  return { objects, bytes };
}

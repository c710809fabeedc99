import pLimit from 'p-limit';
import type { StorageDriver } from './driver.js';
import { BLOBS_ROOT } from './paths.js';

/** Stats in flight at once: enough to be quick on S3 (one HEAD each), few enough not to swamp it. */
const CONCURRENCY = 16;

/**
 * Objects and bytes under blobs/ last modified before `before`: the starting value of the
 * stored-blob gauges, counted once at start. Blobs committed after `before` are left out because
 * withDriverBase counts those as they commit. `stopped()` ends the walk early (shutdown).
 */
export async function countStoredBlobs(storage: StorageDriver, before: Date, stopped: () => boolean = () => false): Promise<{ objects: number; bytes: number }> {
  const limit = pLimit(CONCURRENCY);
  let objects = 0;
  let bytes = 0;
  for (const algorithm of await storage.list(BLOBS_ROOT)) {
    for (const prefix of await storage.list(`${BLOBS_ROOT}/${algorithm}`)) {
      if (stopped()) return { objects, bytes };
      const names = await storage.list(`${BLOBS_ROOT}/${algorithm}/${prefix}`);
      await Promise.all(
        names.map((name) =>
          limit(async () => {
            const info = await storage.stat(`${BLOBS_ROOT}/${algorithm}/${prefix}/${name}`);
            if (!info || info.modifiedAt >= before) return;
            objects += 1;
            bytes += info.size;
          }),
        ),
      );
    }
  }
  return { objects, bytes };
}

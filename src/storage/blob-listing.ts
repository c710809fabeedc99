import pLimit from 'p-limit';
import { parseDigest, type Digest } from '../oci/digest.js';
import type { ObjectInfo, StorageDriver } from './driver.js';
import { BLOBS_ROOT, paths } from './paths.js';

/** Stats in flight at once: quick on S3 (one HEAD each) without swamping it. */
const STAT_CONCURRENCY = 16;

/** Every stored blob (manifest bytes included), by digest, one prefix folder at a time. */
export async function* listBlobs(storage: StorageDriver): AsyncGenerator<Digest> {
  for (const prefix of await storage.list(`${BLOBS_ROOT}/sha256`)) {
    for (const hex of await storage.list(`${BLOBS_ROOT}/sha256/${prefix}`)) {
      try {
        yield parseDigest(`sha256:${hex}`);
      } catch {
        // a stray file that is not a digest: left alone by everyone
      }
    }
  }
}

/**
 * Calls `visit` with the size and mtime of every stored blob, statting several at once. The walk
 * done once at start by the usage index and the storage gauges. `stopped()` ends it early.
 */
export async function forEachStoredBlob(
  storage: StorageDriver,
  visit: (digest: Digest, info: ObjectInfo) => void,
  stopped: () => boolean = () => false,
): Promise<void> {
  const limit = pLimit(STAT_CONCURRENCY);
  const pending: Promise<void>[] = [];
  for await (const digest of listBlobs(storage)) {
    if (stopped()) break;
    pending.push(
      limit(async () => {
        const info = await storage.stat(paths.blob(digest));
        if (info) visit(digest, info);
      }),
    );
  }
  await Promise.all(pending);
}

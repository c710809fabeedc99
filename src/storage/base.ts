import { performance } from 'node:perf_hooks';
import type { Metrics } from '../observability/metrics.js';
import { NotFoundError, StorageError, type StorageDriver } from './driver.js';
import { BLOBS_ROOT } from './paths.js';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * A key outside the layout's grammar: a bug in the code that built it, not a storage outage, so it
 * is not a StorageError (those are 503 "storage unavailable" and count against the disk's health).
 */
export class StorageKeyError extends Error {
  constructor(key: string) {
    super(`invalid key: ${JSON.stringify(key)}`);
    this.name = 'StorageKeyError';
  }
}

/** Rejects keys that could leave the driver's namespace; every caller's key passes through here. */
export function validateKey(key: string, allowEmpty = false): string {
  if (key === '' && allowEmpty) return key;
  const segments = key.split('/');
  for (const s of segments) {
    if (!SEGMENT.test(s) || s === '.' || s === '..') throw new StorageKeyError(key);
  }
  return key;
}

/**
 * What every driver needs, written once: key validation, errors that name the driver and the
 * operation ("filesystem: writer: ENOSPC …"), and, given `metrics`, timings, errors by operation
 * and the stored-blob tally. NotFoundError passes through untouched since callers switch on it.
 * Drivers stay thin.
 */
export function withDriverBase(driver: StorageDriver, metrics?: Metrics): StorageDriver {
  const wrap = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let failed = false;
    try {
      return await fn();
    } catch (err) {
      failed = !(err instanceof NotFoundError || err instanceof StorageKeyError);
      if (err instanceof NotFoundError || err instanceof StorageError || err instanceof StorageKeyError) throw err;
      throw new StorageError(driver.name, operation, err);
    } finally {
      metrics?.observeStorage(driver.name, operation, (performance.now() - started) / 1000, failed);
    }
  };
  const tally = blobTally(driver, metrics);
  return {
    name: driver.name,
    stat: (key) => wrap('stat', () => driver.stat(validateKey(key))),
    get: (key) => wrap('get', () => driver.get(validateKey(key))),
    put: (key, bytes) => wrap('put', () => tally.adding(validateKey(key), bytes.length, () => driver.put(key, bytes))),
    reader: (key, range) => wrap('reader', () => driver.reader(validateKey(key), range)),
    writer: async (key, options) => {
      const w = await wrap('writer', () => driver.writer(validateKey(key), options));
      let written = 0;
      return {
        write: (chunk) => wrap('write', () => w.write(chunk).then(() => void (written += chunk.length))),
        get landed() {
          return w.landed;
        },
        readBack: (position, length, into) => wrap('readBack', () => w.readBack(position, length, into)),
        commit: () => wrap('commit', () => tally.adding(key, written, () => w.commit())),
        abort: () => wrap('abort', () => w.abort()),
        release: () => wrap('release', () => w.release()),
      };
    },
    delete: (key) => wrap('delete', () => tally.removing(validateKey(key), () => driver.delete(key))),
    list: (prefix) => wrap('list', () => driver.list(validateKey(prefix, true))),
    listObjects: (prefix) => wrap('listObjects', () => driver.listObjects(validateKey(prefix, true))),
    health: async () => {
      const started = performance.now();
      const health = await driver.health();
      metrics?.observeStorage(driver.name, 'health', (performance.now() - started) / 1000, !health.ok);
      return health;
    },
    space: () => wrap('space', () => driver.space()),
    sweepTemps: (olderThan, options) => wrap('sweepTemps', () => driver.sweepTemps(olderThan, options)),
    directUrl: (key) => wrap('directUrl', () => driver.directUrl(validateKey(key))),
  };
}

/**
 * Keeps pullthrough_storage_objects/bytes current as blobs are committed and deleted, so a scrape
 * never walks the tree. A stat first tells a new blob from one already there (content-addressed
 * keys are written again when two fetches race or a manifest is fetched for a second repository).
 */
function blobTally(driver: StorageDriver, metrics: Metrics | undefined) {
  const counted = (key: string) => metrics !== undefined && key.startsWith(`${BLOBS_ROOT}/`);
  const existing = (key: string) => driver.stat(key).catch(() => undefined);
  return {
    async adding(key: string, size: number, write: () => Promise<void>): Promise<void> {
      if (!counted(key)) return write();
      const before = await existing(key);
      await write();
      if (!before) metrics!.storedBlobs(1, size);
    },
    async removing(key: string, remove: () => Promise<void>): Promise<void> {
      if (!counted(key)) return remove();
      const before = await existing(key);
      await remove();
      if (before) metrics!.storedBlobs(-1, -before.size);
    },
  };
}

import { NotFoundError, StorageError, type StorageDriver } from './driver.js';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Rejects keys that could leave the driver's namespace; every caller's key passes through here. */
export function validateKey(key: string, allowEmpty = false): string {
  if (key === '' && allowEmpty) return key;
  const segments = key.split('/');
  for (const s of segments) {
    if (!SEGMENT.test(s) || s === '.' || s === '..') throw new StorageError('storage', 'key', `invalid key: ${JSON.stringify(key)}`);
  }
  return key;
}

/**
 * What every driver needs, written once: key validation and errors that name the driver and the
 * operation ("filesystem: writer: ENOSPC …"). NotFoundError passes through untouched since callers
 * switch on it. Drivers stay thin.
 */
export function withDriverBase(driver: StorageDriver): StorageDriver {
  const wrap = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof StorageError) throw err;
      throw new StorageError(driver.name, operation, err);
    }
  };
  return {
    name: driver.name,
    stat: (key) => wrap('stat', () => driver.stat(validateKey(key))),
    get: (key) => wrap('get', () => driver.get(validateKey(key))),
    put: (key, bytes) => wrap('put', () => driver.put(validateKey(key), bytes)),
    reader: (key, range) => wrap('reader', () => driver.reader(validateKey(key), range)),
    writer: async (key, options) => {
      const w = await wrap('writer', () => driver.writer(validateKey(key), options));
      return {
        write: (chunk) => wrap('write', () => w.write(chunk)),
        commit: () => wrap('commit', () => w.commit()),
        abort: () => wrap('abort', () => w.abort()),
      };
    },
    delete: (key) => wrap('delete', () => driver.delete(validateKey(key))),
    list: (prefix) => wrap('list', () => driver.list(validateKey(prefix, true))),
    health: () => driver.health(),
    space: () => wrap('space', () => driver.space()),
    sweepTemps: (olderThan) => wrap('sweepTemps', () => driver.sweepTemps(olderThan)),
    directUrl: (key) => wrap('directUrl', () => driver.directUrl(validateKey(key))),
  };
}

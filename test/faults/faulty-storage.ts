import type { StorageDriver, StorageWriter } from '../../src/storage/driver.js';

/** What the wrapped driver is made to suffer; change the fields while the server runs. */
export interface StorageFaults {
  /** Bytes the "disk" still takes; a write past it fails with ENOSPC. Aborted temps give theirs back. */
  freeBytes: number;
  /** Every new object fails to open with this error, as a read-only or foreign-owned directory does. */
  denyWrites?: 'EACCES' | 'EROFS';
}

const TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EACCES: 'permission denied',
  EROFS: 'read-only file system',
};

/** An error shaped as Node's fs errors are: what the driver base turns into "filesystem: write …: no space left on device". */
export function errnoError(code: keyof typeof TEXT, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${TEXT[code]}, ${syscall} '${path}'`), { code, syscall, path });
}

/**
 * Wraps a driver (under the driver base, so errors are reported as any driver's are) with a disk
 * that fills up or refuses writes: the injection variant of the tmpfs test, which needs no mount.
 * Reads are untouched, so what is cached stays servable.
 */
export function faultyStorage(faults: StorageFaults, where = '/var/lib/pullthrough'): (driver: StorageDriver) => StorageDriver {
  return (driver) => {
    const take = (n: number, path: string) => {
      if (faults.freeBytes < n) throw errnoError('ENOSPC', 'write', path);
      faults.freeBytes -= n;
    };
    const opening = (path: string) => {
      if (faults.denyWrites) throw errnoError(faults.denyWrites, 'open', path);
    };
    return {
      ...bind(driver),
      async writer(key, options): Promise<StorageWriter> {
        const temp = `${where}/_tmp/${key.split('/').pop()}`;
        opening(temp);
        const inner = await driver.writer(key, options);
        let held = 0;
        let committed = false;
        const giveBack = () => {
          faults.freeBytes += held;
          held = 0;
        };
        return {
          async write(chunk) {
            take(chunk.length, temp);
            held += chunk.length;
            await inner.write(chunk);
          },
          get landed() {
            return inner.landed;
          },
          readBack: (position, length) => inner.readBack(position, length),
          async commit() {
            await inner.commit();
            committed = true;
          },
          async abort() {
            giveBack();
            await inner.abort();
          },
          async release() {
            if (!committed) giveBack();
            await inner.release();
          },
        };
      },
      async put(key, bytes) {
        const temp = `${where}/_tmp/${key.split('/').pop()}`;
        opening(temp);
        take(bytes.length, temp);
        await driver.put(key, bytes);
      },
      async health() {
        const probe = `${where}/_tmp/probe`;
        if (faults.denyWrites) return { ok: false, error: `filesystem: open ${probe}: ${TEXT[faults.denyWrites]}` };
        if (faults.freeBytes < 4096) return { ok: false, error: `filesystem: write ${probe}: ${TEXT.ENOSPC}` };
        return driver.health();
      },
    };
  };
}

/** The driver's methods bound to it, so spreading them keeps `this`. */
function bind(driver: StorageDriver): StorageDriver {
  return {
    name: driver.name,
    stat: (k) => driver.stat(k),
    get: (k) => driver.get(k),
    put: (k, b) => driver.put(k, b),
    reader: (k, r) => driver.reader(k, r),
    writer: (k, o) => driver.writer(k, o),
    delete: (k) => driver.delete(k),
    list: (p) => driver.list(p),
    listObjects: (p) => driver.listObjects(p),
    health: () => driver.health(),
    space: () => driver.space(),
    sweepTemps: (d) => driver.sweepTemps(d),
    directUrl: (k) => driver.directUrl(k),
  };
}

import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import {
  NotFoundError,
  type ByteRange,
  type ListedObject,
  type ObjectInfo,
  type StorageDriver,
  type StorageHealth,
  type StorageSpace,
  type StorageWriter,
} from './driver.js';
import { FileBytes } from './file-bytes.js';
import { TempFile } from './temp-file.js';
import { osErrorText } from './os-error.js';

/** Driver-private directory for temp files; never a key, swept at start. */
const TMP_DIR = '_tmp';

/**
 * Objects are plain files under `root`. New objects are written to `<root>/_tmp/<uuid>`, fsynced
 * and renamed into place, so a crash leaves at worst a temp file (swept by open()), never a prefix
 * under a real key. `_tmp` sits on the same filesystem as the keys, so the rename is atomic.
 */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  private readonly tmp: string;

  private constructor(readonly root: string) {
    this.tmp = join(root, TMP_DIR);
  }

  /**
   * Creates the root if needed and removes temp files left by a previous process. With
   * `sweepTemps: false` it touches nothing (`pullthrough check` beside a running server).
   */
  static async open(root: string, options: { sweepTemps?: boolean } = {}): Promise<FilesystemDriver> {
    const driver = new FilesystemDriver(root);
    if (options.sweepTemps === false) return driver;
    await rm(driver.tmp, { recursive: true, force: true });
    await mkdir(driver.tmp, { recursive: true });
    return driver;
  }

  private file(key: string): string {
    return join(this.root, key);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.file(key));
      return s.isFile() ? { size: s.size, modifiedAt: s.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const w = await this.writer(key);
    try {
      await w.write(bytes);
      await w.commit();
    } finally {
      await w.release();
    }
  }

  async reader(key: string, range?: ByteRange): Promise<Readable> {
    let handle: FileHandle;
    try {
      handle = await open(this.file(key), 'r');
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(key);
      throw err;
    }
    // Opening first means a missing key rejects here instead of erroring mid-response. Only
    // stored blobs are read this way; a herd on a blob being fetched follows the fetch instead.
    return new FileBytes(handle, range);
  }

  async writer(key: string): Promise<StorageWriter> {
    // A missing _tmp (an operator cleared the cache by hand under the running server) is made
    // again rather than passing every pull through uncached until restart.
    const temp = join(this.tmp, randomUUID());
    const file = await TempFile.create(temp);
    const target = this.file(key);
    let committed = false;
    const discard = async () => {
      await file.close().catch(() => undefined);
      if (!committed) await rm(temp, { force: true });
    };
    return {
      write: (chunk) => file.write(chunk),
      get landed() {
        return file.landed;
      },
      readBack: (position, length, into) => file.readBack(position, length, into),
      commit: async () => {
        await file.flushAndSync();
        await mkdir(dirname(target), { recursive: true });
        await rename(temp, target);
        committed = true;
      },
      abort: discard,
      release: discard,
    };
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const names = await readdir(this.file(prefix));
      return names.filter((n) => prefix !== '' || n !== TMP_DIR).sort();
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw err;
    }
  }

  async listObjects(prefix: string): Promise<ListedObject[]> {
    const dir = this.file(prefix);
    let entries;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw err;
    }
    const found: ListedObject[] = [];
    for (const e of entries) {
      if (!e.isFile()) continue;
      const key = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
      if (prefix === '' && key.startsWith(`${TMP_DIR}/`)) continue;
      // Deleted between the readdir and its stat: not listed.
      const s = await stat(join(e.parentPath, e.name)).catch(() => undefined);
      if (s) found.push({ key, size: s.size, modifiedAt: s.mtime });
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async health(): Promise<StorageHealth> {
    const probe = join(this.tmp, `probe-${randomUUID()}`);
    try {
      // EEXIST: something that is not a directory sits at _tmp; the open below then reports it
      // as the OS does ("open …/_tmp/probe-…: not a directory").
      await mkdir(this.tmp, { recursive: true }).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      });
      const handle = await open(probe, 'w');
      try {
        await handle.write('probe');
        await handle.sync();
      } finally {
        await handle.close();
      }
      if ((await readFile(probe, 'utf8')) !== 'probe') throw new Error(`read ${probe}: wrong bytes read back`);
      await rm(probe);
      // Objects are committed under blobs/: something else in its place fails every commit.
      const blobs = join(this.root, 'blobs');
      const found = await stat(blobs).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
      if (found && !found.isDirectory()) throw new Error(`stat ${blobs}: not a directory`);
      return { ok: true };
    } catch (err) {
      // A probe that opened but could not be written (ENOSPC) must not stay behind: readiness is
      // probed every few seconds, and each would leave an empty file until the next start.
      await rm(probe, { force: true }).catch(() => undefined);
      return { ok: false, error: `${this.name}: ${osErrorText(err)}` };
    }
  }

  async space(): Promise<StorageSpace> {
    const s = await statfs(this.root);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  }

  async sweepTemps(olderThan: Date, options: { dryRun?: boolean; key?: string } = {}): Promise<number> {
    let removed = 0;
    if (options.key !== undefined) return removed;
    for (const name of await readdir(this.tmp).catch(() => [] as string[])) {
      const file = join(this.tmp, name);
      const s = await stat(file).catch(() => undefined);
      if (s && s.mtime < olderThan) {
        if (!options.dryRun) await rm(file, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  async directUrl(): Promise<undefined> {
    return undefined;
  }
}

/** No object under the key: nothing there, or a path component that is not a directory (a file where the root or a folder should be). */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

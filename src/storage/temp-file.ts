import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FileAppender } from './file-appender.js';

/**
 * A file with one appender and many readers: readBack() serves what has landed while writes go
 * on, so readers follow a growing object at their own pace. The handle is closed by close(), once
 * no read is pending; until then the bytes stay readable even after the path was renamed or
 * removed (the inode lives while it is open).
 */
export class TempFile {
  private readonly appender: FileAppender;
  private pendingReads = 0;
  private readsDone?: () => void;
  private closing?: Promise<void>;

  private constructor(
    private readonly handle: FileHandle,
    durable: boolean,
  ) {
    this.appender = new FileAppender(handle, durable);
  }

  /**
   * Creates the file (and its folder when it is missing, e.g. removed under a running server).
   * `scratch`: unlinked at once, so it vanishes with the last handle, even after a crash, and
   * never needs syncing (a local spool of bytes that are stored elsewhere).
   */
  static async create(path: string, options: { scratch?: boolean } = {}): Promise<TempFile> {
    const handle = await open(path, 'w+').catch(async (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dirname(path), { recursive: true });
      return open(path, 'w+');
    });
    if (options.scratch) {
      try {
        await unlink(path);
      } catch (err) {
        await handle.close();
        throw err;
      }
    }
    return new TempFile(handle, !options.scratch);
  }

  get landed(): number {
    return this.appender.landed;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.appender.write(chunk);
  }

  flush(): Promise<void> {
    return this.appender.flush();
  }

  flushAndSync(): Promise<void> {
    return this.appender.flushAndSync();
  }

  /** Up to `length` landed bytes from `position` (fewer only past what has landed), in `into` if given. */
  async readBack(position: number, length: number, into?: Buffer): Promise<Buffer> {
    if (this.closing) throw new Error('read back after close');
    const n = Math.max(0, Math.min(length, into?.length ?? length, this.landed - position));
    if (n === 0) return Buffer.alloc(0);
    this.pendingReads += 1;
    try {
      const buffer = into ? into.subarray(0, n) : Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const { bytesRead } = await this.handle.read(buffer, filled, n - filled, position + filled);
        if (bytesRead === 0) throw new Error(`read back ${n} bytes at ${position}: the file ends after ${position + filled}`);
        filled += bytesRead;
      }
      return buffer;
    } finally {
      this.pendingReads -= 1;
      if (this.pendingReads === 0) this.readsDone?.();
    }
  }

  /** Closes the handle once pending reads are done. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.pendingReads > 0) await new Promise<void>((resolve) => (this.readsDone = resolve));
      await this.handle.close();
    })();
    return this.closing;
  }
}

import type { FileHandle } from 'node:fs/promises';

/** Chunks are gathered into writes of about this size: a 64 KiB syscall per network chunk is slow. */
const BATCH_BYTES = 1024 * 1024;
/** Queued bytes past which write() waits, bounding memory per file being written. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/**
 * Written bytes after which a background datasync starts: the disk flushes while the network
 * still delivers, so the fsync at commit only has the tail left (it dominated large cold pulls).
 */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Appends to an open file in large vectored writes, one in flight at a time, so the network and
 * the disk work in parallel. Chunks are kept by reference until written: callers hand them over.
 */
export class FileAppender {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private writing?: Promise<void>;
  private syncing?: Promise<void>;
  private unsyncedBytes = 0;
  /** The latest write or sync error, boxed: whatever was thrown, even a falsy value, counts. */
  private failure?: { error: unknown };
  private landedBytes = 0;

  constructor(
    private readonly handle: FileHandle,
    /** false for a scratch file that is never made durable (a spool): no background datasyncs. */
    private readonly durable = true,
  ) {}

  /** Bytes written to the file (in the OS's hands, readable by anyone with the handle). */
  get landed(): number {
    return this.landedBytes;
  }

  /** Queues a chunk; resolves at once unless too much is queued; rejects once a write failed. */
  async write(chunk: Uint8Array): Promise<void> {
    this.throwIfFailed();
    this.queued.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.queuedBytes += chunk.byteLength;
    if (this.queuedBytes >= BATCH_BYTES) this.start();
    while (this.queuedBytes >= MAX_QUEUED_BYTES && this.writing) await this.writing;
    this.throwIfFailed();
  }

  /** Writes everything queued; rejects with the first error. */
  async flush(): Promise<void> {
    while (!this.failure && (this.writing || this.queuedBytes > 0)) {
      this.start();
      await this.writing;
    }
    this.throwIfFailed();
  }

  /** Writes everything queued and makes it durable; rejects with the first error. */
  async flushAndSync(): Promise<void> {
    await this.flush();
    await this.syncing;
    this.throwIfFailed();
    await this.handle.sync();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /** A datasync of what is written so far; a failure surfaces at the next write or the final sync. */
  private syncInBackground(): void {
    this.unsyncedBytes = 0;
    this.syncing = this.handle.datasync().then(
      () => (this.syncing = undefined),
      (err: unknown) => {
        this.failure = { error: err };
        this.syncing = undefined;
      },
    );
  }

  private start(): void {
    if (this.writing || this.queuedBytes === 0 || this.failure) return;
    const batch = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    const bytes = batch.reduce((n, b) => n + b.length, 0);
    this.writing = writeAll(this.handle, batch, bytes).then(
      () => {
        this.writing = undefined;
        this.landedBytes += bytes;
        this.unsyncedBytes += bytes;
        if (this.durable && this.unsyncedBytes >= SYNC_EVERY_BYTES && !this.syncing) this.syncInBackground();
        if (this.queuedBytes >= BATCH_BYTES) this.start();
      },
      (err: unknown) => {
        this.failure = { error: err };
        this.writing = undefined;
        this.queued = [];
        this.queuedBytes = 0;
      },
    );
  }
}

/** writev, then plain writes for whatever a short write left (a full disk answers that way first). */
async function writeAll(handle: FileHandle, buffers: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await handle.writev(buffers);
  let rest = bytesWritten < total ? Buffer.concat(buffers).subarray(bytesWritten) : undefined;
  while (rest && rest.length > 0) {
    const { bytesWritten: n } = await handle.write(rest);
    if (n === 0) throw Object.assign(new Error('no space left on device (short write)'), { code: 'ENOSPC' });
    rest = rest.subarray(n);
  }
}

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { StorageError, type ByteRange, type StorageDriver, type StorageWriter } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { UpstreamError } from '../upstream/errors.js';
import type { Route } from '../upstream/routing.js';
import { ChunkWindow } from './chunk-window.js';
import { END, FetchReader, WAIT, type FetchSource } from './fetch-reader.js';

/**
 * Bytes a fetch may hold in memory for its readers once storage failed and cannot hold them:
 * past this it waits for the slowest reader (pass-through has nowhere else to put them).
 */
const PASS_THROUGH_WINDOW = 8 * 1024 * 1024;
/**
 * The newest bytes kept in memory even once storage holds them: readers near the front (most
 * of them, most of the time) take them by reference instead of reading them back from the temp.
 */
const FRONT_BYTES = 4 * 1024 * 1024;

/**
 * One upstream fetch of one blob, owned by no client: it reads the upstream at the upstream's
 * pace, hashes, and appends to a storage writer; it never waits for a reader. Every client of the
 * digest, the first included, is a FetchReader following the growing object at its own pace:
 * the newest bytes come from a window in memory, older ones are read back from the writer. A reader's last byte waits for the digest check; on any failure every reader is
 * destroyed and the temp discarded. The commit (fsync + rename, multipart completion) follows the
 * check and is on nobody's critical path; the temp stays readable until the last reader leaves.
 *
 * If storage fails mid-way (disk full), the fetch passes the bytes through from memory to the
 * readers it has, paced by the slowest, and stores nothing.
 *
 * The fetch has its own AbortController: a client that hangs up never aborts what others read.
 */
export class BlobFetch implements FetchSource {
  /** The upstream's Content-Length (undefined: it sent none) once its headers arrived. */
  readonly ready: Promise<number | undefined>;
  /** The size, once every byte arrived and matched the digest. */
  readonly complete: Promise<number>;
  /** Resolves once the verified blob is committed; rejects if the fetch failed or storage could not keep it. */
  readonly done: Promise<void>;
  verified = false;
  failure?: Error;
  /** Set when storage failed: the fetch passes bytes through and new readers may not join. */
  private storageFailure?: Error;
  private size?: number;
  private readonly window = new ChunkWindow();
  private writer?: StorageWriter;
  /** Set once the writer's temp is being discarded or freed; new readers then read the stored blob. */
  private releasing = false;
  /** Resolves once the temp is discarded or freed: a failed fetch is not over while readers use it. */
  private readonly gone: Promise<void>;
  private resolveGone!: () => void;
  private settled = false;
  private readonly readers = new Set<FetchReader>();
  private readonly wakers = new Set<() => void>();
  /** Resolves the fetch's wait for slow readers (pass-through only). */
  private readersMoved?: () => void;
  private readonly controller = new AbortController();

  constructor(
    private readonly route: Route,
    private readonly digest: Digest,
    private readonly storage: StorageDriver,
    private readonly log: Logger,
    /** Told of each committed blob and its size (the usage index). */
    private readonly onCommit?: (digest: string, size: number) => void,
  ) {
    this.gone = new Promise((resolve) => (this.resolveGone = resolve));
    let resolveReady!: (size: number | undefined) => void;
    let rejectReady!: (err: unknown) => void;
    let resolveComplete!: (size: number) => void;
    let rejectComplete!: (err: unknown) => void;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.complete = new Promise((resolve, reject) => {
      resolveComplete = resolve;
      rejectComplete = reject;
    });
    this.done = this.run(resolveReady, resolveComplete).catch((err: unknown) => {
      // Already settled when only storage failed: the bytes were verified and served.
      rejectReady(err);
      rejectComplete(err);
      throw err;
    });
    // Callers await what they need; an unobserved failure is not an unhandled rejection.
    this.complete.catch(() => undefined);
    this.done.catch(() => undefined);
  }

  /** Stops the transfer (shutdown); every reader gets the error. */
  abort(reason: Error): void {
    this.controller.abort(reason);
  }

  /** Readers still attached (tests and shutdown count them). */
  get readerCount(): number {
    return this.readers.size;
  }

  /** Readers waiting for bytes (each holds one wake-up). */
  get waiting(): number {
    return this.wakers.size;
  }

  /**
   * A reader of the whole blob or of one range. Undefined when the fetch is over and its temp is
   * gone: the caller reads the stored blob instead. Throws the failure of a failed fetch, and the
   * storage error to a joiner whose bytes storage no longer holds.
   */
  reader(range?: ByteRange): Readable | undefined {
    if (this.failure) throw this.failure;
    if (this.releasing) return undefined;
    const start = range?.start ?? 0;
    const landed = this.writer?.landed ?? 0;
    if (this.storageFailure && this.window.start > Math.max(landed, start)) throw this.storageFailure;
    const end = range ? range.end : this.size !== undefined ? this.size - 1 : undefined;
    const reader = new FetchReader(this, start, end);
    this.readers.add(reader);
    return reader;
  }

  next(position: number, max: number, into?: Buffer): Buffer | Promise<Buffer> | typeof WAIT | typeof END {
    if (this.failure) throw this.failure;
    const held = this.window.slice(position, max);
    if (held) return held;
    const landed = this.writer?.landed ?? 0;
    if (position < landed) return this.writer!.readBack(position, Math.min(max, landed - position), into);
    if (position < this.window.start) throw new Error(`blob fetch: bytes at ${position} are neither stored nor held`);
    return this.verified ? END : WAIT;
  }

  subscribe(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }

  moved(): void {
    if (this.readersMoved) this.readersMoved();
  }

  detach(reader: FetchReader): void {
    this.readers.delete(reader);
    this.moved();
    this.releaseWhenUnused();
  }

  private wakeAll(): void {
    if (this.wakers.size === 0) return;
    const wakers = [...this.wakers];
    this.wakers.clear();
    for (const wake of wakers) wake();
  }

  private async run(resolveReady: (size: number | undefined) => void, resolveComplete: (size: number) => void): Promise<void> {
    const { upstream, name } = this.route;
    const { signal } = this.controller;
    const timeouts = upstream.blobTimeouts;
    const deadline = setTimeout(() => this.abort(this.timeout(`took longer than the ${timeouts.deadline / 1000}s deadline`)), timeouts.deadline);
    const idle = setTimeout(() => this.abort(this.timeout(`sent nothing for ${timeouts.idle / 1000}s`)), timeouts.idle);
    deadline.unref();
    idle.unref();
    try {
      const remote = await upstream.client.getBlob(name, this.digest.value, signal);
      this.size = remote.size;
      resolveReady(remote.size);
      this.writer = await this.storage.writer(paths.blob(this.digest), { sizeHint: remote.size }).catch((err: unknown) => {
        this.storageFailed(err);
        return undefined;
      });
      const hash = createHash('sha256');
      try {
        for await (const chunk of remote.body as AsyncIterable<Buffer>) {
          idle.refresh();
          hash.update(chunk);
          this.window.append(chunk);
          if (this.size !== undefined && this.window.end > this.size) {
            throw UpstreamError.protocol(upstream.name, `blob ${this.digest.value} sent more than its ${this.size} bytes`);
          }
          const stored = this.storageFailure ? undefined : this.writer?.write(chunk);
          this.trim();
          this.wakeAll();
          await stored?.catch((err: unknown) => this.storageFailed(err));
          if (this.storageFailure) await this.paceByReaders(this.storageFailure, signal);
          idle.refresh();
        }
      } catch (err) {
        remote.body.destroy();
        throw signal.aborted ? signal.reason : err;
      }
      const received = this.window.end;
      if (this.size !== undefined && received !== this.size) {
        throw UpstreamError.protocol(upstream.name, `blob ${this.digest.value} ended after ${received} of ${this.size} bytes`);
      }
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== this.digest.value) {
        throw UpstreamError.protocol(upstream.name, `blob ${this.digest.value} arrived with digest ${actual}; discarded`);
      }
      this.size = received;
      this.verified = true;
      resolveComplete(received);
      this.wakeAll();
    } catch (err) {
      const failure = this.fail(err);
      // Settles only once the temp is gone, so nothing of a failed fetch outlives it.
      await this.gone;
      throw failure;
    } finally {
      clearTimeout(deadline);
      clearTimeout(idle);
    }
    await this.commit();
  }

  private async commit(): Promise<void> {
    try {
      if (this.writer && !this.storageFailure) {
        try {
          await this.writer.commit();
          this.onCommit?.(this.digest.value, this.size!);
        } catch (err) {
          // The blobs tree unwritable, ENOSPC at fsync: nothing is stored, readers still finish.
          this.storageFailed(err);
        }
      }
    } finally {
      this.settled = true;
      this.trim();
      this.releaseWhenUnused();
    }
    if (this.storageFailure) {
      await this.gone;
      throw this.storageFailure;
    }
  }

  /** False once storage failed: a new client starts its own pass-through instead of finding its bytes gone. */
  get joinable(): boolean {
    return !this.failure && !this.storageFailure;
  }

  private fail(err: unknown): Error {
    // Registry errors (BLOB_UNKNOWN, an upstream's own status) keep their kind; anything else is the upstream's failure.
    const failure =
      err instanceof RegistryError || err instanceof StorageError ? err : UpstreamError.unreachable(this.route.upstream.name, `blob ${this.digest.value}`, err);
    this.failure = failure;
    this.settled = true;
    // One line per cause: the log is rate-limited by its fields (src/observability/log-limiter.ts), so they hold
    // nothing that differs between two fetches failing alike. Held back by the health gate: its change was logged.
    if (!(failure instanceof UpstreamError && failure.heldBack)) {
      const upstreamStatus = failure instanceof UpstreamError ? failure.upstreamStatus : undefined;
      this.log.warn(
        { upstream: this.route.upstream.name, repository: this.route.name, digest: this.digest.value, upstreamStatus, err: failure.message },
        'blob fetch failed',
      );
    }
    // Every reader is woken to the failure and destroyed: none ends cleanly on bad bytes.
    this.wakeAll();
    this.readersMoved?.();
    this.releaseWhenUnused(true);
    return failure;
  }

  /** Storage gave up (disk full, permissions): from here on, bytes pass through and nothing is stored. */
  private storageFailed(err: unknown): void {
    if (this.storageFailure) return;
    // Drivers throw Errors (StorageError through withDriverBase); anything else is named after the driver.
    this.storageFailure = err instanceof Error ? err : new StorageError(this.storage.name, 'write', err);
    this.log.error({ err: this.storageFailure.message, digest: this.digest.value }, 'cannot store blob; passing it through uncached');
  }

  /**
   * Pass-through: waits while more than the window is held for readers behind. A reader that
   * holds everyone up for the idle timeout is dropped; nobody left reading ends the fetch (with `storageFailure`).
   */
  private async paceByReaders(storageFailure: Error, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (this.readers.size === 0) throw storageFailure;
      this.trim();
      if (this.window.size <= PASS_THROUGH_WINDOW) return;
      const moved = await new Promise<boolean>((resolve) => {
        const settle = (value: boolean) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', stop);
          resolve(value);
        };
        const stop = () => settle(false);
        const timer = setTimeout(stop, this.route.upstream.blobTimeouts.idle);
        signal.addEventListener('abort', stop, { once: true });
        this.readersMoved = () => settle(true);
      });
      this.readersMoved = undefined;
      signal.throwIfAborted();
      if (!moved) this.dropSlowest();
    }
  }

  private dropSlowest(): void {
    const slowest = Math.min(...[...this.readers].map((r) => r.position));
    const error = new StorageError(this.storage.name, 'pass-through', 'a client read too slowly while storage was failing');
    for (const r of this.readers) if (r.position === slowest) r.destroy(error);
  }

  /** Drops from memory what storage holds (but the front), or, in pass-through, what every reader has passed. */
  private trim(): void {
    const landed = this.writer?.landed ?? 0;
    if (!this.storageFailure) {
      this.window.dropBefore(Math.min(landed, this.window.end - FRONT_BYTES));
      return;
    }
    let slowest = this.window.end;
    for (const r of this.readers) slowest = Math.min(slowest, r.position);
    this.window.dropBefore(Math.max(landed, slowest));
  }

  /** The writer's temp lives while readers follow it; it goes once the fetch settled and the last left. */
  private releaseWhenUnused(now = false): void {
    if (this.releasing || !this.settled || (!now && this.readers.size > 0)) return;
    this.releasing = true;
    void (this.writer?.release() ?? Promise.resolve())
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message, digest: this.digest.value }, 'cannot release blob temp'))
      .finally(this.resolveGone);
  }

  private timeout(what: string): UpstreamError {
    return UpstreamError.unreachable(this.route.upstream.name, `blob ${this.digest.value}`, new Error(`the upstream ${what}`));
  }
}

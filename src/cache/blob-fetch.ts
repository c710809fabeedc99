import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { StorageError, type StorageDriver, type StorageWriter } from '../storage/driver.js';
import { paths } from '../storage/paths.js';
import { UpstreamError } from '../upstream/errors.js';
import type { Route } from '../upstream/routing.js';

/**
 * One upstream fetch of one blob, teed: bytes go to a storage writer and, live, to the request
 * that started it; they are hashed on the way and committed only if the digest matches. Requests
 * that join while it runs wait for the commit and then read from storage.
 *
 * The fetch runs on its own AbortController, not the client's: a leader that hangs up must not
 * abort the transfer other requests are waiting on.
 */
export class BlobFetch {
  /** Resolves with the upstream's Content-Length (undefined if it sent none) once headers arrive. */
  readonly ready: Promise<number | undefined>;
  /** Resolves once the verified blob is committed; rejects on any failure (nothing is stored). */
  readonly done: Promise<void>;
  private readonly controller = new AbortController();
  private resolveReady!: (size: number | undefined) => void;

  constructor(
    private readonly route: Route,
    private readonly digest: Digest,
    private readonly storage: StorageDriver,
    private readonly log: Logger,
    /** The leader's live copy of the bytes; destroyed with the error if the fetch fails. */
    private readonly live?: PassThrough,
    /** Told of each committed blob and its size (the usage index). */
    private readonly onCommit?: (digest: string, size: number) => void,
  ) {
    let rejectReady!: (err: unknown) => void;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      rejectReady = reject;
    });
    // The fetch may fail with no reader attached yet; the error reaches readers through `done`.
    live?.on('error', () => undefined);
    this.done = this.run();
    this.done.catch(rejectReady);
  }

  /** Stops the transfer (shutdown); joiners and the leader get the error. */
  abort(reason: Error): void {
    this.controller.abort(reason);
  }

  private async run(): Promise<void> {
    const { upstream, name } = this.route;
    const remote = await upstream.client.getBlob(name, this.digest.value, this.controller.signal);
    this.resolveReady(remote.size);
    let writer: StorageWriter | undefined;
    let storageError: unknown;
    // A storage failure (disk full, permissions) downgrades the fetch to pass-through: the leader
    // still gets verified bytes, nothing is stored, and joiners get the storage error.
    const dropWriter = async (err: unknown) => {
      storageError = err;
      this.log.error({ err: (err as Error).message, digest: this.digest.value }, 'cannot store blob; passing it through uncached');
      await writer?.abort().catch(() => undefined);
      writer = undefined;
    };
    writer = await this.storage.writer(paths.blob(this.digest), { sizeHint: remote.size }).catch(async (err: unknown) => {
      await dropWriter(err);
      return undefined;
    });
    const hash = createHash('sha256');
    let received = 0;
    // The leader gets each chunk one chunk late: the last one is sent only after the digest
    // matched, so bad bytes can never reach a client as a complete, cleanly ended response.
    // Storage writes queue up (the driver batches them); the leader's pace sets the fetch's.
    let held: Buffer | undefined;
    try {
      for await (const chunk of remote.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        received += chunk.length;
        const stored = writer?.write(chunk).catch(dropWriter);
        if (held) await this.toLive(held);
        held = chunk;
        await stored;
      }
      if (remote.size !== undefined && received !== remote.size) {
        throw UpstreamError.protocol(upstream.name, `blob ${this.digest.value} ended after ${received} of ${remote.size} bytes`);
      }
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== this.digest.value) {
        throw UpstreamError.protocol(upstream.name, `blob ${this.digest.value} arrived with digest ${actual}; discarded`);
      }
      // A failed commit (the blobs tree unwritable, ENOSPC at fsync) is a storage failure like any
      // other: the verified bytes still go to the leader, nothing is stored.
      const committed = writer ? await writer.commit().then(() => true, async (err: unknown) => (await dropWriter(err), false)) : false;
      if (committed) this.onCommit?.(this.digest.value, received);
      // The last chunk waits for the commit, so a finished pull is a cached pull: a retry, a
      // second client or another replica right after finds the blob stored.
      if (held) await this.toLive(held);
      this.live?.end();
    } catch (err) {
      remote.body.destroy();
      await writer?.abort().catch(() => undefined);
      const failure = err instanceof UpstreamError || err instanceof StorageError ? err : UpstreamError.unreachable(upstream.name, `blob ${this.digest.value}`, err);
      // Never end the leader's response cleanly on bad bytes: destroying it aborts the connection.
      this.live?.destroy(failure);
      throw failure;
    }
    if (storageError) throw storageError;
  }

  /** Writes to the leader with backpressure; once the leader is gone the fetch goes on without it. */
  private async toLive(chunk: Buffer): Promise<void> {
    const live = this.live;
    if (!live || live.destroyed || live.writableEnded) return;
    if (live.write(chunk)) return;
    await Promise.race([once(live, 'drain'), once(live, 'close')]);
  }
}

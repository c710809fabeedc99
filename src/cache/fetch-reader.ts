import { Readable, type Writable } from 'node:stream';
import { BufferPool, drainedOrGone, type SelfSending } from '../storage/self-sending.js';

/** Bytes asked of the source per read: large enough to keep syscalls few, small enough for a herd of 50. */
const READ_BYTES = 256 * 1024;
/** Buffers one sendTo() cycles through while the socket holds the ones it is writing. */
const POOL_BUFFERS = 4;

/** What next() answers when the bytes at a position have not arrived yet, or when there are no more. */
export const WAIT = Symbol('wait');
export const END = Symbol('end');

/** The running fetch as its readers see it. */
export interface FetchSource {
  /** True once every byte arrived and the digest matched: only then may a reader end. */
  readonly verified: boolean;
  /** Why the fetch failed, once it has: every reader is destroyed with it. */
  readonly failure?: Error;
  /**
   * Up to `max` bytes from `position`: now (from memory), later (read back from storage, into
   * `into` if given), WAIT, or END (verified, and nothing past `position`). Throws the fetch's failure.
   */
  next(position: number, max: number, into?: Buffer): Buffer | Promise<Buffer> | typeof WAIT | typeof END;
  /** Calls `wake` once, the next time there is news (bytes, verification, failure); returns the cancel. */
  subscribe(wake: () => void): () => void;
  /** The reader moved or went away (pass-through pacing, releasing the temp). */
  moved(reader: FetchReader): void;
  detach(reader: FetchReader): void;
}

/**
 * One client's view of a blob being fetched: it reads the bytes as they land, at its own pace,
 * from `start` to `end` (inclusive; undefined: to the end of the blob, once that is known). Its
 * last byte waits for the digest check, so bad bytes never end cleanly: a failure destroys it.
 * A Readable for any consumer; sendTo() is the response's path, reading what storage holds back
 * into a few reused buffers instead of a fresh one per read (see self-sending.ts).
 */
export class FetchReader extends Readable implements SelfSending {
  private cursor: number;
  private pumping = false;
  private sending = false;
  private cancelWait?: () => void;

  constructor(
    private readonly source: FetchSource,
    start: number,
    private readonly end: number | undefined,
  ) {
    super({ highWaterMark: READ_BYTES });
    this.cursor = start;
  }

  get position(): number {
    return this.cursor;
  }

  override _read(): void {
    void this.pump();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.cancelWait?.();
    this.cancelWait = undefined;
    this.source.detach(this);
    callback(err);
  }

  async sendTo(dest: Writable, sent: (bytes: number) => void): Promise<void> {
    if (this.sending || this.readableFlowing !== null) throw new Error('FetchReader: sendTo() on a stream already being read');
    this.sending = true;
    const pool = new BufferPool(POOL_BUFFERS, READ_BYTES);
    // The client left: stop, detach from the fetch (it runs on for the others), wake a wait for news.
    const leave = () => {
      pool.abandon();
      this.destroy();
    };
    if (dest.destroyed) leave();
    dest.once('close', leave);
    // Destroyed with a cause, here or by the fetch (pass-through drops a client too slow): the response is cut.
    const cut = (err: Error) => dest.destroy(err);
    this.once('error', cut);
    try {
      for (;;) {
        const into = await pool.take();
        if (!into || this.destroyed) break;
        const next = this.step(into);
        if (next === WAIT) {
          pool.give(into);
          await new Promise<void>((resolve) => this.waitForNews(resolve));
          continue;
        }
        if (next === END) {
          dest.end();
          break;
        }
        const got = next instanceof Promise ? await next : next;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the client may hang up during the await; TS keeps the loop top's narrowing
        if (this.destroyed) break;
        // The wait for `drain` comes after the next read, not before it: the read overlaps the socket's write.
        if (dest.writableNeedDrain) await drainedOrGone(dest);
        if (pool.abandoned) break;
        // A view of `into` (read back from storage) goes back once written; bytes held in memory need none.
        const pooled = got.buffer === into.buffer;
        if (!pooled) pool.give(into);
        dest.write(got, pooled ? () => pool.give(into) : undefined);
        sent(got.length);
      }
      this.destroy();
    } catch (err) {
      // The fetch failed (cut upstream, wrong digest): the client sees a short read, never a clean end.
      this.destroy(err as Error);
    } finally {
      dest.off('close', leave);
    }
  }

  /** Pushes what the source has until the consumer is full, the bytes run out, or the end. */
  private async pump(): Promise<void> {
    if (this.pumping || this.cancelWait) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.destroyed) return;
        const next = this.step();
        if (next === WAIT) {
          this.waitForNews(() => void this.pump());
          return;
        }
        if (next === END) return void this.push(null);
        const got = next instanceof Promise ? await next : next;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the client may hang up during the await; TS keeps the loop top's narrowing
        if (this.destroyed) return;
        if (!this.push(got)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The next bytes for this reader (the cursor moves past them): now, or once read back from
   * storage (into `into`, if given); WAIT for news, or END: the range or the blob is done and
   * verified. Throws the fetch's failure. Not async: a caller that hears WAIT subscribes in the same
   * turn, so news landing in between (the verification) cannot be missed.
   */
  private step(into?: Buffer): Buffer | Promise<Buffer> | typeof WAIT | typeof END {
    if (this.source.failure) throw this.source.failure;
    const verified = this.source.verified;
    let max = READ_BYTES;
    if (this.end !== undefined) {
      // The range's own last byte is held back until the blob is verified.
      max = Math.min(max, this.end + 1 - this.cursor - (verified ? 0 : 1));
      if (max <= 0) return verified ? END : WAIT;
    }
    const got = this.source.next(this.cursor, max, into);
    if (got === WAIT || got === END) return got;
    if (!(got instanceof Promise)) return this.advance(got);
    return got.then((bytes) => this.advance(bytes));
  }

  private advance(bytes: Buffer): Buffer {
    this.cursor += bytes.length;
    this.source.moved(this);
    return bytes;
  }

  /** `then` once, at the fetch's next news (bytes, verification, failure), or when this reader is destroyed. */
  private waitForNews(then: () => void): void {
    const cancel = this.source.subscribe(() => {
      this.cancelWait = undefined;
      then();
    });
    this.cancelWait = () => {
      cancel();
      then();
    };
  }
}

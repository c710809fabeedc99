import { Readable } from 'node:stream';

/** Bytes asked of the source per read: large enough to keep syscalls few, small enough for a herd of 50. */
const READ_BYTES = 256 * 1024;

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
   * Up to `max` bytes from `position`: now (from memory), later (read back from storage), WAIT,
   * or END (verified, and nothing past `position`). Throws the fetch's failure.
   */
  next(position: number, max: number): Buffer | Promise<Buffer> | typeof WAIT | typeof END;
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
 */
export class FetchReader extends Readable {
  private cursor: number;
  private pumping = false;
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

  /** Pushes what the source has until the consumer is full, the bytes run out, or the end. */
  private async pump(): Promise<void> {
    if (this.pumping || this.cancelWait) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.destroyed) return;
        if (this.source.failure) throw this.source.failure;
        const verified = this.source.verified;
        let max = READ_BYTES;
        if (this.end !== undefined) {
          // The range's own last byte is held back until the blob is verified.
          max = Math.min(max, this.end + 1 - this.cursor - (verified ? 0 : 1));
          if (max <= 0) {
            if (verified) this.push(null);
            else this.waitForNews();
            return;
          }
        }
        const got = this.source.next(this.cursor, max);
        if (got === WAIT) {
          this.waitForNews();
          return;
        }
        if (got === END) return void this.push(null);
        const bytes = got instanceof Promise ? await got : got;
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the client may hang up during the await; TS keeps the loop top's narrowing
        if (this.destroyed) return;
        this.cursor += bytes.length;
        this.source.moved(this);
        if (!this.push(bytes)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  private waitForNews(): void {
    this.cancelWait = this.source.subscribe(() => {
      this.cancelWait = undefined;
      void this.pump();
    });
  }
}

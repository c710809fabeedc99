import type { Readable, Writable } from 'node:stream';

// Blob bodies that write themselves into the response through a few reused buffers, where a pipe
// would allocate a fresh one per read: stored files (FileBytes) and running fetches (FetchReader).

/** A response's body that can send itself with less work than a pipe. */
export interface SelfSending {
  /** Writes every byte into `dest` and ends it; `sent` hears each write's size. Destroys this stream when done. */
  sendTo(dest: Writable, sent: (bytes: number) => void): Promise<void>;
}

export function isSelfSending(stream: Readable): stream is Readable & SelfSending {
  return typeof (stream as Partial<SelfSending>).sendTo === 'function';
}

/** A few buffers handed out in turn; take() waits until one is given back, or the pool is abandoned. */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private made = 0;
  private waiter?: (buffer: Buffer | undefined) => void;
  /** Set once the destination is gone. */
  abandoned = false;

  constructor(
    private readonly count: number,
    private readonly size: number,
  ) {}

  take(): Promise<Buffer | undefined> {
    if (this.abandoned) return Promise.resolve(undefined);
    const buffer = this.free.pop() ?? (this.made < this.count ? (this.made++, Buffer.allocUnsafe(this.size)) : undefined);
    if (buffer) return Promise.resolve(buffer);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(buffer);
    else this.free.push(buffer);
  }

  /** The destination is gone: its unwritten buffers may never come back, so nobody waits for them. */
  abandon(): void {
    this.abandoned = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(undefined);
  }
}

/** Resolves on the destination's next `drain`, or once it is gone. */
export function drainedOrGone(dest: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      dest.off('drain', done);
      dest.off('close', done);
      resolve();
    };
    dest.once('drain', done);
    dest.once('close', done);
  });
}

import type { SingleFlight } from '../cluster/lease.js';

/**
 * Coalesces concurrent work by key: while a promise for a key is pending, every caller gets that
 * same promise. The entry is dropped when it settles, so the next caller after a failure retries
 * cleanly instead of inheriting the error. With `across` (cluster mode) the work also runs once
 * across replicas: the others wait for its commit and read the result from storage.
 */
export class Inflight<T> {
  private readonly pending = new Map<string, Promise<T>>();
  /** Work settled so far, of any key: a caller whose storage lookup overlapped one asks storage again. */
  ended = 0;

  constructor(private readonly across?: SingleFlight) {}

  /**
   * `joined` is true when the caller got someone else's pending work (in this process).
   * `fromStorage` (cluster mode): the result another replica committed, if storage holds it.
   */
  run(key: string, work: () => Promise<T>, fromStorage?: () => Promise<{ value: T } | undefined>): { result: Promise<T>; joined: boolean } {
    const existing = this.pending.get(key);
    if (existing) return { result: existing, joined: true };
    const once = this.across && fromStorage ? this.across.run(key, work, fromStorage) : work();
    const result = once.finally(() => {
      this.ended += 1;
      this.pending.delete(key);
    });
    this.pending.set(key, result);
    return { result, joined: false };
  }

  get(key: string): Promise<T> | undefined {
    return this.pending.get(key);
  }

  get size(): number {
    return this.pending.size;
  }
}

/**
 * Coalesces concurrent work by key: while a promise for a key is pending, every caller gets that
 * same promise. The entry is dropped when it settles, so the next caller after a failure retries
 * cleanly instead of inheriting the error.
 */
export class Inflight<T> {
  private readonly pending = new Map<string, Promise<T>>();

  /** `joined` is true when the caller got someone else's pending work. */
  run(key: string, work: () => Promise<T>): { result: Promise<T>; joined: boolean } {
    const existing = this.pending.get(key);
    if (existing) return { result: existing, joined: true };
    const result = work().finally(() => this.pending.delete(key));
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

/**
 * The newest chunks of a blob being fetched, by offset: what readers at the front read while
 * storage has not taken the bytes yet. Chunks are kept by reference (storage holds the same
 * buffers until written), so the window costs no copy.
 */
export class ChunkWindow {
  private readonly chunks: Buffer[] = [];
  /** Offset of chunks[0]. */
  private first = 0;
  private bytes = 0;

  /** Offset of the oldest byte held. */
  get start(): number {
    return this.first;
  }

  /** Offset just past the newest byte held: every byte received so far. */
  get end(): number {
    return this.first + this.bytes;
  }

  get size(): number {
    return this.bytes;
  }

  append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /**
   * Up to `max` bytes from `position`, from one chunk, without copying; undefined when the window
   * does not hold `position`. Searched from the newest chunk: readers here are at the front.
   */
  slice(position: number, max: number): Buffer | undefined {
    if (position < this.first || position >= this.end || max <= 0) return undefined;
    let offset = this.end;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const chunk = this.chunks[i]!;
      offset -= chunk.length;
      if (position >= offset) {
        const from = position - offset;
        return chunk.subarray(from, Math.min(chunk.length, from + max));
      }
    }
    return undefined;
  }

  /** Forgets the chunks that end at or before `position`. */
  dropBefore(position: number): void {
    while (this.chunks.length > 0 && this.first + this.chunks[0]!.length <= position) {
      const chunk = this.chunks.shift()!;
      this.first += chunk.length;
      this.bytes -= chunk.length;
    }
  }
}

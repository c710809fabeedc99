import { randomUUID } from 'node:crypto';
import { parseDigest, type Digest } from '../oci/digest.js';
import type { StorageDriver } from '../storage/driver.js';

/** One marker per running gc, `_state/gc/running/<uuid>`: servers journal manifests while any is there. */
const RUNNING = '_state/gc/running';
/** One empty object per manifest a server stored while a gc ran: `_state/gc/live/<hex>`. */
const LIVE = '_state/gc/live';
/** How long a server trusts what it last saw of the marker; gc waits longer than this before marking. */
export const MARKER_TRUST_MS = 1_000;

/**
 * The handshake that makes gc safe beside running servers, through storage alone (so it holds
 * across replicas on one bucket). gc writes the marker and waits until every server has seen it;
 * from then on each server records a manifest in the journal before storing it, and the sweep
 * re-reads the journal right before each batch of deletions and keeps what those manifests reach.
 */
export class GcJournal {
  private seen?: { running: boolean; at: number };

  constructor(
    private readonly storage: StorageDriver,
    private readonly now: () => number = Date.now,
  ) {}

  /** Server side: journals a manifest about to be stored, if a gc runs. */
  async recordManifest(digest: Digest): Promise<void> {
    if (!(await this.gcRunning())) return;
    await this.storage.put(`${LIVE}/${digest.hex}`, new Uint8Array());
  }

  private async gcRunning(): Promise<boolean> {
    const now = this.now();
    if (!this.seen || now - this.seen.at >= MARKER_TRUST_MS) {
      this.seen = { running: (await this.storage.list(RUNNING)).length > 0, at: now };
    }
    return this.seen.running;
  }

  /** gc side: puts this gc's marker up; returns what end() needs. */
  static async begin(storage: StorageDriver): Promise<{ marker: string; startedAt: Date }> {
    const startedAt = new Date();
    const marker = `${RUNNING}/${randomUUID()}`;
    await storage.put(marker, Buffer.from(JSON.stringify({ startedAt: startedAt.toISOString() })));
    return { marker, startedAt };
  }

  /** gc side: the manifests servers stored since the first running gc began. */
  static async liveManifests(storage: StorageDriver): Promise<Digest[]> {
    return (await storage.list(LIVE)).flatMap((hex) => {
      try {
        return [parseDigest(`sha256:${hex}`)];
      } catch {
        return [];
      }
    });
  }

  /**
   * gc side: takes this gc's marker down and, when no other gc runs, empties the journal of what was
   * recorded before this gc began (those manifests are linked like any other by now).
   */
  static async end(storage: StorageDriver, run: { marker: string; startedAt: Date }): Promise<void> {
    await storage.delete(run.marker);
    if ((await storage.list(RUNNING)).length > 0) return;
    for (const o of await storage.listObjects(LIVE)) {
      if (o.modifiedAt < run.startedAt) await storage.delete(`${LIVE}/${o.key}`);
    }
  }
}

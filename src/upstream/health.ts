/** How the health of one upstream URL is remembered between requests. */
export interface HealthPolicy {
  /** Wait before the first recovery probe after a failure (ms); doubles per failed probe. */
  probeInitial: number;
  /** The longest wait between recovery probes (ms). */
  probeMax: number;
}

/** What a state change reports, for the log and metrics. */
export interface HealthChange {
  url: string;
  up: boolean;
  /** Why it went down; absent on recovery. */
  reason?: string;
  /** When the next probe may go out (epoch ms); absent on recovery. */
  nextProbeAt?: number;
}

/** A request that the gate held back, with what to tell the client instead. */
export interface Refusal {
  reason: string;
  /** Set while a 429's Retry-After (or rate-limit window) runs: the client should hear 429 too. */
  retryAfterSeconds?: number;
  nextProbeAt: number;
}

/**
 * Remembers whether one upstream URL answered lately, so a hanging or refusing upstream costs one
 * timeout, not one per request. Down after a failure (no answer, 5xx, 429). While down, a request
 * that has a cached answer to fall back on is held back, except one probe at a time once the
 * backoff has passed; a request with nothing to fall back on still goes out (it would fail anyway)
 * and its success counts as recovery. A 429 holds back everything until its Retry-After.
 */
export class UpstreamHealth {
  private down?: { since: number; reason: string; nextProbeAt: number; backoff: number; rateLimitedUntil?: number };
  private probing = false;

  constructor(
    readonly url: string,
    private readonly policy: HealthPolicy,
    private readonly onChange: (change: HealthChange) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  get up(): boolean {
    return this.down === undefined;
  }

  /** Why it is down and until when nothing is tried, for /readyz and errors; undefined when up. */
  get status(): { since: number; reason: string; nextProbeAt: number } | undefined {
    return this.down && { since: this.down.since, reason: this.down.reason, nextProbeAt: this.down.nextProbeAt };
  }

  /**
   * Whether a request may go out now. `fallback`: the caller can answer without the upstream.
   * Returns a ticket to report the outcome with, or a refusal.
   */
  admit(fallback: boolean): { ticket: Ticket } | { refused: Refusal } {
    const d = this.down;
    if (!d) return { ticket: this.ticket(false) };
    const now = this.now();
    if (d.rateLimitedUntil !== undefined && now < d.rateLimitedUntil) {
      return { refused: { reason: d.reason, nextProbeAt: d.rateLimitedUntil, retryAfterSeconds: Math.ceil((d.rateLimitedUntil - now) / 1000) } };
    }
    if (!fallback) return { ticket: this.ticket(false) };
    if (this.probing || now < d.nextProbeAt) return { refused: { reason: d.reason, nextProbeAt: d.nextProbeAt } };
    this.probing = true;
    return { ticket: this.ticket(true) };
  }

  private ticket(probe: boolean): Ticket {
    let done = false;
    const settle = (fn?: () => void) => {
      if (done) return;
      done = true;
      if (probe) this.probing = false;
      fn?.();
    };
    return {
      succeeded: () => settle(() => this.succeeded()),
      failed: (reason, retryAfterSeconds) => settle(() => this.failed(reason, retryAfterSeconds)),
      // Aborted by our own caller: says nothing about the upstream.
      abandoned: () => settle(),
    };
  }

  private succeeded(): void {
    if (!this.down) return;
    this.down = undefined;
    this.onChange({ url: this.url, up: true });
  }

  private failed(reason: string, retryAfterSeconds?: number): void {
    const now = this.now();
    const wasUp = this.down === undefined;
    const backoff = wasUp ? this.policy.probeInitial : Math.min(this.down!.backoff * 2, this.policy.probeMax);
    const rateLimitedUntil = retryAfterSeconds === undefined ? undefined : now + retryAfterSeconds * 1000;
    const nextProbeAt = Math.max(now + backoff, rateLimitedUntil ?? 0);
    this.down = { since: this.down?.since ?? now, reason, nextProbeAt, backoff, rateLimitedUntil };
    if (wasUp) this.onChange({ url: this.url, up: false, reason, nextProbeAt });
  }
}

/** The outcome of one admitted request; the first report counts, later ones are ignored. */
export interface Ticket {
  succeeded(): void;
  /** `retryAfterSeconds`: a 429 (or a spent rate limit) says when to ask again. */
  failed(reason: string, retryAfterSeconds?: number): void;
  abandoned(): void;
}

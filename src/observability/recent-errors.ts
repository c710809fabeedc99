/** One distinct error line, as the log limiter keys it, with how often it came. */
export interface RecentError {
  level: 'info' | 'warn' | 'error';
  message: string;
  /** The latest line's fields, values flattened to short strings (lines carry no secrets). */
  fields: Record<string, string>;
  count: number;
  firstSeen: string;
  lastSeen: string;
}

interface Entry {
  level: RecentError['level'];
  message: string;
  line: object;
  count: number;
  first: number;
  last: number;
}

const MAX_FIELD_CHARS = 300;

/**
 * The distinct error lines of the last hour, for the status page: the same keys the LogLimiter
 * deduplicates by, so a client retrying one failing pull 10,000 times is one entry with a count,
 * as it is one log line. Bounded: beyond `max` keys the oldest is dropped.
 */
export class RecentErrors {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly max = 50,
    private readonly keepMs = 60 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(level: RecentError['level'], key: string, line: object, message: string): void {
    const at = this.now();
    const seen = this.entries.get(key);
    // Delete and set again: a Map iterates in insertion order, so the newest stays last.
    this.entries.delete(key);
    this.entries.set(key, { level, message, line, count: (seen?.count ?? 0) + 1, first: seen?.first ?? at, last: at });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Newest first, dropping those not seen within the last `keepMs`. */
  list(): RecentError[] {
    const since = this.now() - this.keepMs;
    return [...this.entries.values()]
      .filter((e) => e.last >= since)
      .reverse()
      .map((e) => ({
        level: e.level,
        message: e.message,
        fields: flatten(e.line),
        count: e.count,
        firstSeen: new Date(e.first).toISOString(),
        lastSeen: new Date(e.last).toISOString(),
      }));
  }
}

function flatten(line: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(line)) {
    if (value === undefined) continue;
    const text = value instanceof Error ? value.message : typeof value === 'object' ? JSON.stringify(value) : String(value);
    out[key] = text.length > MAX_FIELD_CHARS ? `${text.slice(0, MAX_FIELD_CHARS)}…` : text;
  }
  return out;
}

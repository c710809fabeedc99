import type { Logger } from 'pino';
import type { RecentErrors } from './recent-errors.js';

type Level = 'info' | 'warn' | 'error';

interface Seen {
  level: Level;
  msg: string;
  /** The latest suppressed line, so the summary shows current values (client, ms, …). */
  line: object;
  suppressed: number;
}

export interface LogLimiterOptions {
  /** How often suppressed lines are summarised; a key quiet for a whole window is forgotten. */
  windowMs?: number;
  /** Distinct keys tracked at once; beyond it new lines are only counted, so a scanner cannot flood either. */
  maxKeys?: number;
  /** Also keeps every distinct line (whatever the log level) for the status page. */
  recent?: RecentErrors;
}

/**
 * Keeps a client in a retry loop, or an upstream that stays down, from filling the disk: the first
 * line with a given key is written, identical ones after it are counted, and once per window each
 * key that repeated gets one `repeated N times` line. Callers choose the key, i.e. what
 * "identical" means (for requests: method, path, status and error code).
 */
export class LogLimiter {
  private readonly seen = new Map<string, Seen>();
  private overflow = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly recent?: RecentErrors;

  constructor(
    private readonly log: Logger,
    options: LogLimiterOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 1000;
    this.recent = options.recent;
    this.timer = setInterval(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  /** `key` defaults to the message and the line's fields: right when the line holds no timings or counters. */
  warn(line: object, msg: string, key?: string): void {
    this.write('warn', key ?? `${msg}|${JSON.stringify(line)}`, line, msg);
  }

  error(line: object, msg: string, key?: string): void {
    this.write('error', key ?? `${msg}|${JSON.stringify(line)}`, line, msg);
  }

  write(level: Level, key: string, line: object, msg: string): void {
    this.recent?.record(level, key, line, msg);
    if (!this.log.isLevelEnabled(level)) return;
    const seen = this.seen.get(key);
    if (seen) {
      seen.suppressed++;
      seen.line = line;
      return;
    }
    if (this.seen.size >= this.maxKeys) {
      this.overflow++;
      return;
    }
    this.seen.set(key, { level, msg, line, suppressed: 0 });
    this.log[level](line, msg);
  }

  /** Writes the summaries now and forgets keys that did not repeat. Runs every window. */
  flush(): void {
    const window = `${Math.round(this.windowMs / 1000)}s`;
    for (const [key, s] of this.seen) {
      if (s.suppressed === 0) {
        this.seen.delete(key);
        continue;
      }
      this.log[s.level]({ ...s.line, repeated: s.suppressed }, `${s.msg}: repeated ${s.suppressed} times in the last ${window}`);
      s.suppressed = 0;
    }
    if (this.overflow > 0) {
      this.log.warn({ suppressed: this.overflow }, `${this.overflow} log lines suppressed in the last ${window}: more than ${this.maxKeys} distinct errors`);
      this.overflow = 0;
    }
  }

  /** Stops the timer and writes what is pending (shutdown). */
  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/**
 * `log` with its warn and error lines passed through the limiter, keyed by message and fields, for
 * code that takes a plain pino Logger: the cache, whose stale-serving warnings would repeat for
 * every pull while an upstream is down. Other levels, and child loggers, are not limited.
 */
export function rateLimited(log: Logger, limiter: LogLimiter): Logger {
  return new Proxy(log, {
    get(target, prop, receiver) {
      if (prop === 'warn' || prop === 'error') {
        return (first: unknown, msg?: string) => {
          if (typeof first === 'string') limiter.write(prop, first, {}, first);
          else limiter.write(prop, `${msg ?? ''}|${keyOf(first)}`, first ?? {}, msg ?? '');
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function keyOf(fields: unknown): string {
  return JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? v.message : v));
}

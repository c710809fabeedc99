import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** distribution's combined-format access line: `… "HEAD /v2/x/manifests/1.0 HTTP/1.1" 200 351 "referer" "user agent"`. */
const REQUEST_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "([A-Z]+) (\S+) [^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"/;

/** Gives a server time to write the lines of the last responses before they are counted. */
const FLUSH_MS = 300;

export interface RequestCount {
  total: number;
  /** e.g. { "HEAD 200": 12, "GET 200": 1 } */
  byMethodStatus: Record<string, number>;
}

/**
 * Counts the requests a docker-registry served, from its access log, between
 * two points: how many upstream calls a mirror made while it was measured.
 */
export class AccessLog {
  constructor(private readonly file: string) {}

  /** The current end of the log; pass it to countSince(). */
  async mark(): Promise<number> {
    return (await stat(this.file)).size;
  }

  /** Requests logged since `mark` whose path matches `path`, except those sent with `ignoreUserAgent`. */
  async countSince(mark: number, path: RegExp, ignoreUserAgent?: string): Promise<RequestCount> {
    await sleep(FLUSH_MS);
    const handle = await open(this.file, 'r');
    let text: string;
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.max(0, size - mark));
      await handle.read(buffer, 0, buffer.length, mark);
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
    const count: RequestCount = { total: 0, byMethodStatus: {} };
    for (const line of text.split('\n')) {
      const m = REQUEST_LINE.exec(line);
      if (!m || !path.test(m[2]!) || m[4] === ignoreUserAgent) continue;
      count.total += 1;
      const key = `${m[1]} ${m[3]}`;
      count.byMethodStatus[key] = (count.byMethodStatus[key] ?? 0) + 1;
    }
    return count;
  }
}

import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface CapturedLog {
  log: Logger;
  /** Every line written so far, parsed. */
  lines: Record<string, any>[];
}

/**
 * Waits (up to 2 s) until `count` lines match: request lines are written when the response has
 * finished on the server, which the client may see a moment earlier.
 */
export async function linesMatching(captured: CapturedLog, match: (line: Record<string, any>) => boolean, count: number): Promise<Record<string, any>[]> {
  for (let i = 0; ; i++) {
    const found = captured.lines.filter(match);
    if (found.length >= count || i === 100) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A pino logger writing JSON lines into memory, for tests that count or inspect log lines. */
export function captureLog(level = 'info'): CapturedLog {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as Record<string, any>);
      done();
    },
  });
  return { log: pino({ level, base: undefined }, stream), lines };
}

import { readFile } from 'node:fs/promises';

/** One request as the mirror logged it (pino JSON, one line per request). */
export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  /** hit | miss | stale | coalesced, for manifests and blobs. */
  cache?: string;
}

/**
 * The requests in a mirror's log file, oldest first; other lines (start-up, warnings) are
 * skipped. Tests read it to prove a client really went through the mirror, and how.
 */
export async function readRequestLog(logFile: string): Promise<LoggedRequest[]> {
  const requests: LoggedRequest[] = [];
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    // `repeated` lines summarise rate-limited repeats of an error already listed, not new requests.
    if (entry.repeated !== undefined) continue;
    if (typeof entry.method === 'string' && typeof entry.path === 'string' && typeof entry.status === 'number') {
      requests.push({ method: entry.method, path: entry.path, status: entry.status, cache: typeof entry.cache === 'string' ? entry.cache : undefined });
    }
  }
  return requests;
}

/** Lines like `GET /v2/ghcr.io/e2e/layers/manifests/1.0 200 miss`, for readable expectations and failure messages. */
export function describeRequests(requests: readonly LoggedRequest[]): string[] {
  return requests.map((r) => `${r.method} ${r.path} ${r.status}${r.cache ? ` ${r.cache}` : ''}`);
}

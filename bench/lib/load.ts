import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { run } from '../../test/e2e/harness/run.js';

/** Every manifest type a pull may meet, as docker and skopeo send it. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/**
 * Sent with every autocannon request, so access logs can tell the load from
 * the calls a mirror makes: requests still in flight when a run against the
 * upstream ends are logged after the next run has begun.
 */
export const LOAD_USER_AGENT = 'pullthrough-bench-autocannon';

export interface RateResult {
  /** 2xx responses per second: errors and non-2xx do not count as throughput. */
  rps: number;
  /** 2xx responses in all. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/**
 * Requests/s of one GET under `connections` keep-alive connections for
 * `durationS`, with autocannon in this process. Small bodies only: autocannon
 * buffers response bodies, so blob downloads go through curl instead.
 */
export async function requestRate(url: string, connections: number, durationS: number): Promise<RateResult> {
  const result = await autocannon({
    url,
    connections,
    duration: durationS,
    timeout: 10,
    headers: { accept: MANIFEST_ACCEPT, 'user-agent': LOAD_USER_AGENT },
  });
  return {
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}

export interface DownloadResult {
  seconds: number;
  /** Bytes received by all clients together. */
  bytes: number;
  /** Aggregate throughput in MB/s (10^6 bytes). */
  mbps: number;
}

/**
 * `clients` concurrent curl processes each GET the whole of `url` into
 * /dev/null; resolves with the wall time until the last one finishes. Throws
 * if any answer is not 200 with exactly `expectBytes` bytes, so a mirror that
 * cuts or pads a blob cannot post a good number.
 */
export async function download(url: string, clients: number, expectBytes: number, timeoutMs: number): Promise<DownloadResult> {
  const maxTime = String(Math.ceil(timeoutMs / 1000));
  const args = ['-sS', '-o', '/dev/null', '--max-time', maxTime, '-w', '%{http_code} %{size_download}', url];
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: clients }, () => run('curl', args, { timeoutMs: timeoutMs + 5000 })));
  const seconds = (performance.now() - started) / 1000;
  const problems: string[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === 'rejected') {
      problems.push(`client ${i}: ${(outcome.reason as Error).message}`);
      continue;
    }
    const [status, size] = outcome.value.stdout.toString('utf8').split(' ');
    if (status !== '200' || Number(size) !== expectBytes) problems.push(`client ${i}: HTTP ${status}, ${size} of ${expectBytes} bytes`);
  }
  if (problems.length > 0) {
    throw new Error(`GET ${url} with ${clients} clients: ${problems.length} failed\n  ${problems.slice(0, 5).join('\n  ')}`);
  }
  const bytes = clients * expectBytes;
  return { seconds, bytes, mbps: bytes / 1e6 / seconds };
}

/**
 * One curl reading `url` at `bytesPerSecond` into /dev/null until stop(); what becomes of it is
 * not measured, so stop() never throws.
 */
export function slowClient(url: string, bytesPerSecond: number): { stop(): Promise<void> } {
  const child = spawn('curl', ['-sS', '-o', '/dev/null', '--limit-rate', String(bytesPerSecond), url], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    stop: () => {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

import type { CacheStatus } from '../cache/status.js';

/** How far back the status page looks, in one-minute buckets. */
const MINUTES = 60;
const MINUTE_MS = 60_000;

type CacheKind = 'manifest' | 'blob';

interface UpstreamTraffic {
  /** Manifest GETs answered without a manifest GET upstream. */
  pullsSaved: number;
  /** Manifest GETs sent upstream that it answered (what Docker Hub counts as pulls). */
  pullsMade: number;
  /** 429 answers received. */
  rateLimited: number;
  /** Manifest and blob bytes received. */
  bytes: number;
}

interface Bucket {
  minute: number;
  results: Record<CacheKind, Partial<Record<CacheStatus, number>>>;
  servedBytes: { cache: number; upstream: number };
  upstreams: Map<string, UpstreamTraffic>;
}

/** The last hour's traffic, summed: what the status page shows beside the since-start counters in /metrics. */
export interface TrafficWindow {
  minutes: number;
  /** Cache outcomes of manifest and blob requests. */
  results: Record<CacheKind, Partial<Record<CacheStatus, number>>>;
  /** Manifest and blob body bytes sent, from storage (cache) or from a fetch made for the request (upstream). */
  servedBytes: { cache: number; upstream: number };
  upstreams: Record<string, UpstreamTraffic>;
}

/**
 * Counters over a sliding hour, kept beside the Prometheus counters (which only ever grow, and
 * need a Prometheus to turn into rates). Sixty one-minute buckets, overwritten in turn: memory is
 * fixed whatever the traffic.
 */
export class RecentTraffic {
  private readonly buckets = new Array<Bucket | undefined>(MINUTES);

  constructor(private readonly now: () => number = Date.now) {}

  request(kind: CacheKind, result: CacheStatus, servedFrom: 'cache' | 'upstream' | undefined, bytes: number): void {
    const b = this.current();
    b.results[kind][result] = (b.results[kind][result] ?? 0) + 1;
    if (servedFrom && bytes > 0) b.servedBytes[servedFrom] += bytes;
  }

  /** A manifest GET answered from the cache. */
  pullSaved(upstream: string): void {
    this.upstream(upstream).pullsSaved += 1;
  }

  upstreamManifestGet(upstream: string): void {
    this.upstream(upstream).pullsMade += 1;
  }

  upstreamRateLimited(upstream: string): void {
    this.upstream(upstream).rateLimited += 1;
  }

  upstreamBytes(upstream: string, bytes: number): void {
    this.upstream(upstream).bytes += bytes;
  }

  /** Sums the buckets of the last hour. */
  window(): TrafficWindow {
    const minute = Math.floor(this.now() / MINUTE_MS);
    const sum: TrafficWindow = { minutes: MINUTES, results: { manifest: {}, blob: {} }, servedBytes: { cache: 0, upstream: 0 }, upstreams: {} };
    for (const b of this.buckets) {
      if (!b || b.minute <= minute - MINUTES) continue;
      for (const kind of ['manifest', 'blob'] as const) {
        for (const [result, n] of Object.entries(b.results[kind]) as [CacheStatus, number][]) sum.results[kind][result] = (sum.results[kind][result] ?? 0) + n;
      }
      sum.servedBytes.cache += b.servedBytes.cache;
      sum.servedBytes.upstream += b.servedBytes.upstream;
      for (const [name, t] of b.upstreams) {
        const into = (sum.upstreams[name] ??= { pullsSaved: 0, pullsMade: 0, rateLimited: 0, bytes: 0 });
        into.pullsSaved += t.pullsSaved;
        into.pullsMade += t.pullsMade;
        into.rateLimited += t.rateLimited;
        into.bytes += t.bytes;
      }
    }
    return sum;
  }

  private upstream(name: string): UpstreamTraffic {
    const upstreams = this.current().upstreams;
    let t = upstreams.get(name);
    if (!t) upstreams.set(name, (t = { pullsSaved: 0, pullsMade: 0, rateLimited: 0, bytes: 0 }));
    return t;
  }

  private current(): Bucket {
    const minute = Math.floor(this.now() / MINUTE_MS);
    const slot = minute % MINUTES;
    let b = this.buckets[slot];
    if (b?.minute !== minute) {
      b = { minute, results: { manifest: {}, blob: {} }, servedBytes: { cache: 0, upstream: 0 }, upstreams: new Map() };
      this.buckets[slot] = b;
    }
    return b;
  }
}

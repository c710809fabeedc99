import type { CacheStatus } from '../cache/status.js';
import { SERVED_FROM_CACHE } from '../cache/status.js';
import type { MirrorCache } from '../cache/mirror.js';
import type { Metrics } from '../observability/metrics.js';
import type { Readiness } from '../observability/readiness.js';
import type { RecentError, RecentErrors } from '../observability/recent-errors.js';
import type { TrafficWindow } from '../observability/recent-traffic.js';
import { VERSION } from '../version.js';
import { summarizeRepositories, type RepositorySummary } from './repositories.js';

/** The walk of the repositories tree is reused this long: the page polls, the cache may be large. */
const INVENTORY_TTL_MS = 10_000;
/** Repositories listed in one report; `cache.repositories` counts them all. */
const MAX_LISTED = 200;

/** GET /status.json: what the status page shows, documented in the README for scripts too. */
export interface StatusReport {
  version: string;
  startedAt: string;
  generatedAt: string;
  cache: {
    /** Repositories cached, all upstreams. */
    repositories: number;
    /** Why the repositories could not be listed (storage failing); the rest of the report stands. */
    error?: string;
    /** Per upstream, in the configured order: how many repositories and their bytes. */
    upstreams: Record<string, { repositories: number; bytes: number }>;
    /** The most recently pulled first, at most 200. */
    listed: RepositorySummary[];
  };
  /** The last hour (since start, if younger). */
  traffic: {
    minutes: number;
    /** Manifest and blob requests answered from storage ÷ all of them; null before the first. */
    hitRatio: number | null;
    requests: TrafficWindow['results'];
    servedBytes: TrafficWindow['servedBytes'];
    /** Bytes received from all upstreams. */
    upstreamBytes: number;
  };
  upstreams: {
    name: string;
    url: string;
    default: boolean;
    /** The readiness check (`GET /v2/` and its challenge) passed. */
    reachable: boolean;
    error?: string;
    /** The last rate-limit headers it sent, if it sends them (Docker Hub does). */
    rateLimit: { limit?: number; remaining?: number; windowSeconds?: number; seenAt: string } | null;
    lastHour: { pullsSaved: number; pullsMade: number; rateLimited: number; bytes: number };
  }[];
  storage: {
    /** `filesystem ./storage`, `s3 s3://bucket/prefix (endpoint)`. */
    target: string;
    objects: number;
    usedBytes: number;
    maxBytes: number | null;
    minFreeBytes: number | null;
    /** Free and total bytes of the disk (filesystem only). */
    freeBytes: number | null;
    totalBytes: number | null;
  };
  /** /readyz's answer, checks and error text included. */
  readiness: Readiness;
  /** Distinct error lines of the last hour, newest first, keyed as the logs deduplicate them. */
  errors: RecentError[];
}

export interface StatusSources {
  mirror: MirrorCache;
  metrics: Metrics;
  readiness: () => Promise<Readiness>;
  errors: RecentErrors;
  storageTarget: string;
  startedAt: Date;
}

/** Builds StatusReports from the server's parts; one per server. */
export class StatusReporter {
  private inventory?: { at: number; repositories: Promise<RepositorySummary[]> };

  constructor(private readonly sources: StatusSources) {}

  async report(): Promise<StatusReport> {
    const { mirror, metrics } = this.sources;
    const [inventory, readiness, space] = await Promise.all([
      this.repositories().then(
        (repositories) => ({ repositories, error: undefined }),
        (err: unknown) => ({ repositories: [], error: err instanceof Error ? err.message : String(err) }),
      ),
      this.sources.readiness(),
      mirror.storage.space().catch(() => undefined),
    ]);
    const { repositories } = inventory;
    const traffic = metrics.recent.window();
    return {
      version: VERSION,
      startedAt: this.sources.startedAt.toISOString(),
      generatedAt: new Date().toISOString(),
      cache: {
        repositories: repositories.length,
        ...(inventory.error ? { error: inventory.error } : {}),
        upstreams: perUpstream(
          repositories,
          mirror.router.upstreams.map((u) => u.name),
        ),
        listed: repositories.slice(0, MAX_LISTED),
      },
      traffic: {
        minutes: traffic.minutes,
        hitRatio: hitRatio(traffic),
        requests: traffic.results,
        servedBytes: traffic.servedBytes,
        upstreamBytes: Object.values(traffic.upstreams).reduce((n, u) => n + u.bytes, 0),
      },
      upstreams: mirror.router.upstreams.map((u, i) => {
        const check = readiness.checks.find((c) => c.name === `upstream ${u.name}`);
        const limit = metrics.rateLimits.get(u.name);
        return {
          name: u.name,
          url: u.url,
          default: i === 0,
          reachable: check?.ok ?? false,
          ...(check?.error ? { error: check.error } : {}),
          rateLimit: limit ? { limit: limit.limit, remaining: limit.remaining, windowSeconds: limit.windowSeconds, seenAt: limit.seenAt.toISOString() } : null,
          lastHour: traffic.upstreams[u.name] ?? { pullsSaved: 0, pullsMade: 0, rateLimited: 0, bytes: 0 },
        };
      }),
      storage: {
        target: this.sources.storageTarget,
        objects: mirror.usage?.count ?? metrics.stored.objects,
        usedBytes: mirror.usage?.totalBytes ?? metrics.stored.bytes,
        maxBytes: mirror.limits?.maxBytes ?? null,
        minFreeBytes: mirror.limits?.minFreeBytes ?? null,
        freeBytes: space?.freeBytes ?? null,
        totalBytes: space?.totalBytes ?? null,
      },
      readiness,
      errors: this.sources.errors.list(),
    };
  }

  private repositories(): Promise<RepositorySummary[]> {
    const now = Date.now();
    if (!this.inventory || now - this.inventory.at > INVENTORY_TTL_MS) {
      const repositories = summarizeRepositories(this.sources.mirror.storage, this.sources.mirror.usage);
      // A failed walk is not kept: the next report tries again.
      repositories.catch(() => (this.inventory = undefined));
      this.inventory = { at: now, repositories };
    }
    return this.inventory.repositories;
  }
}

function hitRatio(traffic: TrafficWindow): number | null {
  let all = 0;
  let cached = 0;
  for (const results of Object.values(traffic.results)) {
    for (const [result, n] of Object.entries(results) as [CacheStatus, number][]) {
      all += n;
      if (SERVED_FROM_CACHE.has(result)) cached += n;
    }
  }
  return all === 0 ? null : cached / all;
}

/** In the configured order, every upstream included; a folder left by an upstream no longer configured comes last. */
function perUpstream(repositories: RepositorySummary[], configured: string[]): Record<string, { repositories: number; bytes: number }> {
  const out: Record<string, { repositories: number; bytes: number }> = {};
  for (const name of configured) out[name] = { repositories: 0, bytes: 0 };
  for (const r of repositories) {
    const u = (out[r.upstream] ??= { repositories: 0, bytes: 0 });
    u.repositories += 1;
    u.bytes += r.bytes;
  }
  return out;
}

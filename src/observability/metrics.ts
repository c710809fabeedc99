import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SERVED_FROM_CACHE, type CacheStatus } from '../cache/status.js';
import type { RateLimit } from '../upstream/rate-limit.js';
import { VERSION } from '../version.js';
import { RecentTraffic } from './recent-traffic.js';

/** What the upstream client was asked for: `/v2/` checks, tokens, and the three resources. */
export type UpstreamKind = 'ping' | 'token' | 'manifest' | 'blob' | 'tags' | 'referrers';

/** One finished (or abandoned) client request, as the request middleware saw it. */
export interface RequestOutcome {
  /** Endpoint family (`manifest`, `blob`, `tags`, `catalog`, …, `unknown`), never the raw path. */
  route: string;
  method: string;
  status: number;
  /** Body bytes sent; 0 for HEAD, 304 and abandoned responses. */
  bytes: number;
  seconds: number;
  cache?: CacheStatus;
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The mirror's Prometheus metrics, on a registry of their own: one Metrics per server, handed to
 * the request middleware, cache, upstream client and storage base, so several servers can run in
 * one process (tests) without sharing counters. Label names live here and nowhere else.
 */
export class Metrics {
  readonly registry = new Registry();
  /** The last hour of the same traffic, for the status page. */
  readonly recent: RecentTraffic;
  /** The last rate limit each upstream sent (the gauges' values, readable without a scrape). */
  readonly rateLimits = new Map<string, RateLimit>();
  /** The stored-blob gauges' values. */
  readonly stored = { objects: 0, bytes: 0 };

  private readonly httpRequests = this.counter('pullthrough_http_requests_total', 'Client requests by endpoint family, method and status.', [
    'route',
    'method',
    'status',
  ]);
  private readonly httpBytes = this.counter('pullthrough_http_response_bytes_total', 'Response body bytes sent to clients, by endpoint family.', ['route']);
  private readonly httpSeconds = new Histogram({
    name: 'pullthrough_http_request_duration_seconds',
    help: 'Time from request to last byte (or to the client going away), by endpoint family and method.',
    labelNames: ['route', 'method'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly cacheRequests = this.counter(
    'pullthrough_cache_requests_total',
    "Cache outcomes of manifest, blob and tags requests: hit, miss, coalesced (waited for another request's fetch), stale (a tag past its TTL, served while revalidated in the background or because the upstream failed), revalidated, upstream (passed through, not cached).",
    ['kind', 'result'],
  );
  private readonly servedBytes = this.counter(
    'pullthrough_served_bytes_total',
    'Manifest and blob bytes sent to clients; source="cache" came from storage, source="upstream" from a fetch made for that request.',
    ['kind', 'source'],
  );
  private readonly upstreamBytesTotal = this.counter('pullthrough_upstream_bytes_total', 'Manifest and blob bytes received from upstreams.', [
    'upstream',
    'kind',
  ]);
  private readonly fetchesInFlight = this.gauge(
    'pullthrough_upstream_fetches_in_flight',
    'Manifest and blob fetches from upstreams running now (coalesced requests share one).',
    ['kind'],
  );
  private readonly upstreamRequests = this.counter(
    'pullthrough_upstream_requests_total',
    'HTTP exchanges with upstreams (each redirect hop counts), by kind, method and status ("error" when no response arrived).',
    ['upstream', 'kind', 'method', 'status'],
  );
  private readonly upstreamSeconds = new Histogram({
    name: 'pullthrough_upstream_request_duration_seconds',
    help: 'Time until an upstream answered with response headers.',
    labelNames: ['upstream', 'kind'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly rateLimitLimit = this.gauge(
    'pullthrough_upstream_ratelimit_limit',
    'The last ratelimit-limit an upstream sent (Docker Hub: pulls per window).',
    ['upstream'],
  );
  private readonly rateLimitRemaining = this.gauge(
    'pullthrough_upstream_ratelimit_remaining',
    'The last ratelimit-remaining an upstream sent: alert on this before the upstream answers 429.',
    ['upstream'],
  );
  private readonly rateLimitWindow = this.gauge('pullthrough_upstream_ratelimit_window_seconds', 'The window of the last rate limit an upstream sent (w=…).', [
    'upstream',
  ]);
  private readonly rateLimited = this.counter('pullthrough_upstream_rate_limited_total', '429 Too Many Requests answers received from upstreams.', [
    'upstream',
  ]);
  private readonly upstreamUp = this.gauge(
    'pullthrough_upstream_up',
    'Whether an upstream URL answered lately (1) or is held down after a failure (0): while 0, cached answers are served without asking it.',
    ['upstream', 'url'],
  );
  private readonly pullsSaved = this.counter(
    'pullthrough_upstream_pulls_saved_total',
    'Manifest GETs answered from the cache (hit, revalidated by a HEAD, stale, coalesced): pulls the upstream did not count.',
    ['upstream'],
  );
  private readonly storageObjects = this.gauge(
    'pullthrough_storage_objects',
    'Objects under blobs/ (layers, configs, manifests): counted by a walk at start, then kept on each commit and delete.',
    [],
  );
  private readonly storageBytes = this.gauge('pullthrough_storage_bytes', 'Bytes under blobs/, kept like pullthrough_storage_objects.', []);
  private readonly clusterFallbacks = this.counter(
    'pullthrough_cluster_fallbacks_total',
    'Cluster mode: operations that worked alone because Redis failed (down, slow, an error mid-lease), by operation.',
    ['operation'],
  );
  private readonly clusterRedis = this.gauge('pullthrough_cluster_redis_up', 'Cluster mode: whether the connection to Redis is ready (1) or down (0).', []);
  private readonly clusterLeaseWaits = this.counter(
    'pullthrough_cluster_lease_waits_total',
    'Cluster mode: fetches that found another replica holding the lease and waited for its commit, by kind (blob, manifest, tag).',
    ['kind'],
  );
  private readonly clusterCoalesced = this.counter(
    'pullthrough_cluster_coalesced_total',
    "Cluster mode: lease waits answered by another replica's commit (no upstream request from this replica), by kind.",
    ['kind'],
  );
  private readonly clusterTakeovers = this.counter(
    'pullthrough_cluster_takeovers_total',
    'Cluster mode: leases taken over after their holder let them lapse without a commit (it died, or failed), by kind.',
    ['kind'],
  );
  private readonly storageErrors = this.counter(
    'pullthrough_storage_errors_total',
    'Failed storage operations, by driver and operation (not-found is not a failure).',
    ['driver', 'operation'],
  );
  private readonly storageSeconds = new Histogram({
    name: 'pullthrough_storage_operation_duration_seconds',
    help: 'Storage operation latency by driver and operation (write is per chunk).',
    labelNames: ['driver', 'operation'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  /** `now`: the clock of the last-hour window (tests move it). */
  constructor(options: { processMetrics?: boolean; now?: () => number } = {}) {
    this.recent = new RecentTraffic(options.now);
    this.gauge('pullthrough_build_info', 'Always 1; the version is in the label.', ['version']).set({ version: VERSION }, 1);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its Content-Type, for GET /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  observeRequest(o: RequestOutcome): void {
    this.httpRequests.inc({ route: o.route, method: o.method, status: String(o.status) });
    this.httpSeconds.observe({ route: o.route, method: o.method }, o.seconds);
    if (o.bytes > 0) this.httpBytes.inc({ route: o.route }, o.bytes);
    if (o.cache === undefined || (o.route !== 'manifest' && o.route !== 'blob' && o.route !== 'tags')) return;
    this.cacheRequests.inc({ kind: o.route, result: o.cache });
    if (o.route === 'tags') return;
    const source = SERVED_FROM_CACHE.has(o.cache) ? 'cache' : 'upstream';
    if (o.bytes > 0) this.servedBytes.inc({ kind: o.route, source }, o.bytes);
    this.recent.request(o.route, o.cache, source, o.bytes);
  }

  /** A manifest GET was answered (HEADs are free on Docker Hub, so they save nothing). */
  observeManifestPull(upstream: string, cache: CacheStatus | undefined): void {
    if (!SERVED_FROM_CACHE.has(cache)) return;
    this.pullsSaved.inc({ upstream });
    this.recent.pullSaved(upstream);
  }

  observeUpstream(upstream: string, kind: UpstreamKind, method: string, status: number | 'error', seconds: number): void {
    this.upstreamRequests.inc({ upstream, kind, method, status: String(status) });
    if (status !== 'error') this.upstreamSeconds.observe({ upstream, kind }, seconds);
    if (status === 429) {
      this.rateLimited.inc({ upstream });
      this.recent.upstreamRateLimited(upstream);
    }
    if (kind === 'manifest' && method === 'GET' && status === 200) this.recent.upstreamManifestGet(upstream);
  }

  observeRateLimit(upstream: string, limit: RateLimit): void {
    if (limit.limit !== undefined) this.rateLimitLimit.set({ upstream }, limit.limit);
    if (limit.remaining !== undefined) this.rateLimitRemaining.set({ upstream }, limit.remaining);
    if (limit.windowSeconds !== undefined) this.rateLimitWindow.set({ upstream }, limit.windowSeconds);
    this.rateLimits.set(upstream, { ...this.rateLimits.get(upstream), ...limit });
  }

  observeUpstreamHealth(upstream: string, url: string, up: boolean): void {
    this.upstreamUp.set({ upstream, url }, up ? 1 : 0);
  }

  upstreamBytes(upstream: string, kind: 'manifest' | 'blob', bytes: number): void {
    this.upstreamBytesTotal.inc({ upstream, kind }, bytes);
    this.recent.upstreamBytes(upstream, bytes);
  }

  /** Marks an upstream fetch as running; call the returned function once when it settles. */
  fetchStarted(kind: 'manifest' | 'blob'): () => void {
    this.fetchesInFlight.inc({ kind });
    let ended = false;
    return () => {
      if (!ended) this.fetchesInFlight.dec({ kind });
      ended = true;
    };
  }

  observeStorage(driver: string, operation: string, seconds: number, failed: boolean): void {
    this.storageSeconds.observe({ driver, operation }, seconds);
    if (failed) this.storageErrors.inc({ driver, operation });
  }

  /** Objects appearing (positive) or going away (negative) under blobs/. */
  storedBlobs(objects: number, bytes: number): void {
    this.storageObjects.inc(objects);
    this.storageBytes.inc(bytes);
    this.stored.objects += objects;
    this.stored.bytes += bytes;
  }

  /** Cluster mode: an operation worked alone because Redis failed. */
  clusterFallback(operation: string): void {
    this.clusterFallbacks.inc({ operation });
  }

  clusterRedisUp(up: boolean): void {
    this.clusterRedis.set(up ? 1 : 0);
  }

  /** Cluster mode: a wait for another replica's lease began (`lease-wait`), ended in its commit (`coalesced`) or in a takeover. */
  observeLease(kind: string, event: 'lease-wait' | 'coalesced' | 'takeover'): void {
    const counter = event === 'lease-wait' ? this.clusterLeaseWaits : event === 'coalesced' ? this.clusterCoalesced : this.clusterTakeovers;
    counter.inc({ kind });
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

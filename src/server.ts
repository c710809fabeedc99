import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import { createApp, createDebugApp, type AppDeps } from './app.js';
import { ClientAuth } from './auth/client-auth.js';
import { MirrorCache } from './cache/mirror.js';
import type { ClusterRedis } from './cluster/redis.js';
import type { Config } from './config.js';
import { createListener, listenOn } from './listen.js';
import { LogLimiter, rateLimited } from './observability/log-limiter.js';
import { Metrics } from './observability/metrics.js';
import { RecentErrors } from './observability/recent-errors.js';
import { coalesced, redisCheck, runChecks, storageCheck, upstreamCheck } from './observability/readiness.js';
import type { StorageDriver } from './storage/driver.js';
import { describeStorage, openStorage } from './storage/open.js';
import { StatusReporter } from './status/report.js';
import { countStoredBlobs } from './storage/usage.js';
import { UpstreamRouter } from './upstream/routing.js';

export interface RunningServer {
  server: Server | HttpsServer;
  mirror: MirrorCache;
  metrics: Metrics;
  /** e.g. http://127.0.0.1:5000 (https:// with TLS) */
  url: string;
  /** The `debugListen` listener's URL, when one is configured. */
  debugUrl?: string;
  /**
   * Stops accepting, lets in-flight responses and fetches finish for up to `graceMs` (default
   * `shutdownTimeout`), then aborts the rest; resolves once aborted fetches removed their temps.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ServerOptions {
  /** The clock for tag TTLs and access times; tests move it. */
  now?: () => number;
  /** Wraps the configured driver before the shared base (tests inject faults: ENOSPC, EACCES). */
  wrapStorage?: (driver: StorageDriver) => StorageDriver;
}

export async function startServer(config: Config, log: Logger, options: ServerOptions = {}): Promise<RunningServer> {
  // Read before anything else starts: a bad htpasswd or token file fails the start, naming its key.
  const auth = config.auth ? ClientAuth.load(config.auth) : undefined;
  if (auth && !config.tls) log.warn('auth is on without tls: passwords and tokens cross the network in clear text unless a TLS proxy fronts the mirror');
  const metrics = new Metrics({ processMetrics: true });
  const errors = new RecentErrors();
  const limiter = new LogLimiter(log, { windowMs: config.log.repeatWindow, recent: errors });
  const storage = await openStorage(config.storage, { metrics, wrap: options.wrapStorage });
  const router = new UpstreamRouter(config.upstreams, metrics, log);
  // The cache logs through the limiter: its stale-serving warnings repeat while an upstream is down.
  const redis = config.cluster ? await connectRedis(config.cluster.redis, rateLimited(log, limiter), metrics) : undefined;
  if (config.cluster?.redis.tls?.insecureSkipVerify) log.warn('cluster.redis.tls.insecureSkipVerify: the Redis certificate is not verified');
  const mirror = await MirrorCache.open(storage, router, rateLimited(log, limiter), config.cache, options.now, redis);
  const stopCounting = seedStoredBlobs(mirror, storage, metrics, log);
  const checks = [storageCheck(storage, describeStorage(config.storage)), ...router.upstreams.map(upstreamCheck), ...(redis ? [redisCheck(redis)] : [])];
  const readiness = coalesced(() => runChecks(checks));
  const status = new StatusReporter({ mirror, metrics, readiness, errors, storageTarget: describeStorage(config.storage), startedAt: new Date() });
  const deps: AppDeps = { log, limiter, metrics, readiness, auth, status };
  // Slowloris bound: headers must arrive within headersTimeout. No overall request timeout: a
  // multi-GB blob download to a slow client legitimately takes long.
  const server = createListener(createApp(mirror, deps).callback(), config.tls, config.headersTimeout);
  server.keepAliveTimeout = 65_000;
  const url = await listenOn(server, config.listen);
  const debug = config.debugListen ? createListener(createDebugApp(deps).callback()) : undefined;
  const debugUrl = debug && config.debugListen ? await listenOn(debug, config.debugListen) : undefined;

  return {
    server,
    mirror,
    metrics,
    url,
    debugUrl,
    async close(graceMs = config.shutdownTimeout) {
      const deadline = Date.now() + graceMs;
      const abortAll = () => mirror.blobs.abortAll(new Error('server shutting down'));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        abortAll();
        server.closeAllConnections();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      // Responses are done, but fetches whose clients left may still be filling the cache: they
      // get the rest of the grace, then are aborted, and each removes its temp before it settles.
      await fetchesSettled(mirror, deadline - Date.now());
      abortAll();
      await fetchesSettled(mirror, 5_000);
      if (debug) {
        const debugClosed = new Promise<void>((resolve) => debug.close(() => resolve()));
        debug.closeAllConnections();
        await debugClosed;
      }
      await stopCounting();
      await mirror.close();
      await redis?.close();
      await router.close();
      limiter.close();
    },
  };
}

/** Waits until no blob fetch runs, for at most `ms`. Polls: fetches settle within a few ticks of abort. */
async function fetchesSettled(mirror: MirrorCache, ms: number): Promise<void> {
  const until = Date.now() + Math.max(0, ms);
  while (mirror.blobs.inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Gives the stored-blob gauges their starting value; withDriverBase keeps them current after. The
 * usage index (bounded caches) already counted at start; otherwise one walk runs in the background.
 * Returns a function that stops the walk (shutdown).
 */
function seedStoredBlobs(mirror: MirrorCache, storage: StorageDriver, metrics: Metrics, log: Logger): () => Promise<void> {
  if (mirror.usage) {
    metrics.storedBlobs(mirror.usage.count, mirror.usage.totalBytes);
    return async () => undefined;
  }
  let stopped = false;
  const started = Date.now();
  const walk = countStoredBlobs(storage, new Date(started), () => stopped).then(
    ({ objects, bytes }) => {
      metrics.storedBlobs(objects, bytes);
      log.debug({ objects, bytes, ms: Date.now() - started }, 'counted stored blobs');
    },
    (err: unknown) => log.warn({ err: (err as Error).message }, 'cannot count stored blobs; pullthrough_storage_* count from zero'),
  );
  return async () => {
    stopped = true;
    await walk;
  };
}

/** Loaded only in cluster mode, as the S3 driver is only for S3: ioredis adds about 18 MB to every process that loads it. */
async function connectRedis(...args: ConstructorParameters<typeof ClusterRedis>): Promise<ClusterRedis> {
  const { ClusterRedis } = await import('./cluster/redis.js');
  return new ClusterRedis(...args);
}

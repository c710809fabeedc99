import { readFileSync } from 'node:fs';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';

export type RedisSettings = NonNullable<Config['cluster']>['redis'];

/** A command that has not answered within this fails: a slow Redis must never stall a pull. */
const COMMAND_TIMEOUT_MS = 1_000;
/**
 * How many times in a row a command may time out on a connection that is still up before the
 * caller works alone. One timeout is more often this process than Redis: a replica starved of
 * CPU, or a long GC, reads the answer only after the timer fired (timers run before I/O). So Redis
 * counts as slow after about 3 s; a connection that is down still fails at once.
 */
const TIMED_OUT_TRIES = 3;
/** ioredis's error for a command past `commandTimeout`. */
const TIMED_OUT = 'Command timed out';
const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect backoff: 100 ms, doubling, at most this. */
const RECONNECT_MAX_MS = 5_000;

/**
 * Cluster mode's connection to Redis, shared by the leases and the eviction index. It fails fast:
 * no offline queue (a command while disconnected fails at once), a 1 s command timeout, and
 * reconnection with backoff in the background. Callers that get an error work alone for that
 * request and count it with `fallback()`; `available` and `lastError` feed /readyz.
 */
export class ClusterRedis {
  /** For commands. */
  readonly client: Redis;
  /** Where `keyPrefix` puts this cluster's keys, e.g. `pullthrough:`. */
  readonly prefix: string;
  /** The lease expiry (ms), from `cluster.redis.leaseTime`. */
  readonly leaseTime: number;
  /** The server as people know it, with no credentials: `redis://redis:6379/0`. */
  readonly target: string;
  /** Ready for commands now (connected, and past the ready check). */
  available = false;
  /** Redis's own error text from the last failure, until it answers again. */
  lastError: string | undefined = 'not connected yet';
  private subscriberClient?: Redis;
  private closed = false;

  constructor(
    settings: RedisSettings,
    private readonly log: Logger,
    /** The server's metrics: the cluster's counters are kept there. */
    readonly metrics: Metrics,
  ) {
    this.prefix = settings.keyPrefix;
    this.leaseTime = settings.leaseTime;
    this.target = withoutCredentials(settings.url);
    this.client = new Redis(settings.url, connectionOptions(settings));
    this.client.on('ready', () => this.up());
    this.client.on('error', (err: Error) => this.down(err.message));
    this.client.on('close', () => this.down(this.lastError ?? 'connection closed'));
  }

  /** A key under this cluster's prefix: `key('lease', 'blob', digest)` → `pullthrough:lease:blob:sha256:…`. */
  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /**
   * A second connection for SUBSCRIBE (a subscribed connection takes no other commands); made on
   * first use, re-subscribed by the client after each reconnection.
   */
  get subscriber(): Redis {
    if (!this.subscriberClient) {
      this.subscriberClient = this.client.duplicate();
      // Its errors are the same outage the main connection reports; listened to so they are not thrown.
      this.subscriberClient.on('error', () => undefined);
    }
    return this.subscriberClient;
  }

  /**
   * Runs a command again when it timed out while the connection stayed up, at most TIMED_OUT_TRIES
   * times in all; for commands that may safely run twice (the first may have run, unanswered).
   */
  async retried<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries += 1) {
      try {
        return await command(this.client);
      } catch (err) {
        if (tries >= TIMED_OUT_TRIES || !this.available || (err as Error).message !== TIMED_OUT) throw err;
      }
    }
  }

  /**
   * Redis failed for one operation (`lease`, `heartbeat`, `eviction`…): the caller works alone for
   * it. Counted; logged at most once per outage, with Redis's own error text.
   */
  fallback(operation: string, err: unknown): void {
    this.metrics.clusterFallback(operation);
    const text = err instanceof Error ? err.message : String(err);
    if (this.available) this.log.warn({ operation, err: text, redis: this.target }, 'redis failed; this request works alone');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.available = false;
    this.lastError = 'closed';
    this.subscriberClient?.disconnect();
    this.client.disconnect();
  }

  private up(): void {
    if (!this.available && this.lastError !== 'not connected yet') this.log.info({ redis: this.target }, 'redis is back; replicas coordinate again');
    this.available = true;
    this.lastError = undefined;
    this.metrics.clusterRedisUp(true);
  }

  private down(text: string): void {
    if (this.closed) return;
    if (this.available) this.log.warn({ redis: this.target, err: text }, 'redis unreachable; each replica works alone until it is back');
    this.available = false;
    this.lastError = text;
    this.metrics.clusterRedisUp(false);
  }
}

function connectionOptions(settings: RedisSettings) {
  return {
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.tls || settings.url.startsWith('rediss:') ? { tls: tlsOptions(settings) } : {}),
    enableOfflineQueue: false,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // A command cut by a dropped connection fails rather than waits for the next one.
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 10), RECONNECT_MAX_MS),
  };
}

function tlsOptions({ tls, url }: RedisSettings): ConnectionOptions {
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cluster.redis.tls.${key}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    servername: new URL(url).hostname,
    // Node's `ca` replaces the system store: keep it, so a private CA is trusted besides the public ones.
    ...(tls?.ca ? { ca: [...rootCertificates.map((c) => Buffer.from(c)), read(tls.ca, 'ca')] } : {}),
    ...(tls?.cert && tls.key ? { cert: read(tls.cert, 'cert'), key: read(tls.key, 'key') } : {}),
    ...(tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
  };
}

function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

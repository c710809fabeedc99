import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { ClusterRedis } from './redis.js';

/** What a lease guards: a blob fetch, a manifest fetch, a tag revalidation. */
export type LeaseKind = 'blob' | 'manifest' | 'tag';

/** What claim() found. */
export type Claim =
  /** This replica holds the lease: do the work, then `lease.release(committed)`. */
  | { kind: 'held'; lease: Lease }
  /** Another replica did the work and committed while this one waited: read the result from storage. */
  | { kind: 'committed' }
  /** Redis failed (down, slow, an error): do the work without a lease. Counted as a fallback. */
  | { kind: 'alone' };

/** Runs work once across replicas; the others wait for its commit and read the result from storage. */
export interface SingleFlight {
  /** `fromStorage`: the committed result, or undefined when storage does not hold it (then `work` runs here). */
  run<T>(key: string, work: () => Promise<T>, fromStorage: () => Promise<{ value: T } | undefined>): Promise<T>;
}

/**
 * One look, in one round trip: 2 if the holder waited for (ARGV[3]) has committed; else 1 if the
 * lease is taken now (`SET NX PX`) or already ours (a look that timed out unanswered took it), 0 if
 * not; then the holder's token and the last commit's token.
 * KEYS: lease, done. ARGV: token, lease time (ms), the holder waited for ('' at first).
 */
const ACQUIRE = `
local done = redis.call('GET', KEYS[2])
if ARGV[3] ~= '' and done == ARGV[3] then return {2, false, done} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ARGV[1], done} end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return {1, holder, done} end
return {0, holder, done}`;

/**
 * Extends the lease if it is still ours; takes it again if it vanished (Redis restarted empty, or
 * was unreachable past the expiry) so coordination resumes for a fetch that is still running.
 * 0: another replica holds it now. KEYS: lease. ARGV: token, lease time.
 */
const HEARTBEAT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1 end
return 0`;

/**
 * Deletes the lease if it is still ours; on a commit leaves the "done" key (our token, for a while)
 * so a waiter polling late still sees it; publishes either way, so waiters look at once instead of
 * at their next poll. KEYS: lease, done. ARGV: token, committed (1/0), done time (ms), channel.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] == '1' then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3]) end
redis.call('PUBLISH', ARGV[4], KEYS[1])
return 1`;

/** Waiters look again this often whatever they hear: a lost message, or a holder that died silently. */
const POLL_MS = 1_000;
/** How long a commit's "done" key stays: well past a waiter's poll. */
const DONE_MS = 10_000;

/**
 * Single flight across replicas on Redis, for one key at a time: a lease is `SET key token NX PX
 * leaseTime`, kept by a heartbeat every leaseTime/3 and released (check-and-DEL) when the work
 * ends; the release of committed work leaves a short "done" key and publishes on one channel.
 * Another replica that wants the key waits: woken by the message, and polling every second, it
 * returns `committed` once the holder it waited for committed, or takes the lease over when it
 * vanished without a commit (its holder died: Redis's expiry is the lease, no consensus of ours).
 * A Redis error makes the caller work alone for that request, counted as a fallback: at once when
 * the connection is down, after three timeouts in a row while it is up (ClusterRedis.retried).
 */
export class ClusterLeases {
  /** Which replica holds a lease, readable in its value: `<host>/<pid>/<uuid>`. */
  readonly owner = `${hostname()}/${process.pid}`;
  private readonly channel: string;
  private readonly waiters = new Map<string, Set<() => void>>();

  private readonly metrics: Metrics;

  constructor(
    private readonly redis: ClusterRedis,
    private readonly log: Logger,
    private readonly pollMs = POLL_MS,
  ) {
    this.metrics = redis.metrics;
    this.channel = redis.key('commits');
    const subscriber = redis.subscriber;
    // Subscribed on every (re)connection; a failed SUBSCRIBE only leaves waiters to their polls.
    subscriber.on('ready', () => void subscriber.subscribe(this.channel).catch(() => undefined));
    subscriber.on('message', (_channel: string, key: string) => this.wake(key));
  }

  /** The lease key of one piece of work (hash-tagged with its done key, for Redis Cluster). */
  leaseKey(kind: LeaseKind, id: string): string {
    return this.redis.key('lease', `{${kind}:${id}}`);
  }

  /** Takes the lease for (kind, id), or waits for the holder's commit, or falls back to working alone. */
  async claim(kind: LeaseKind, id: string): Promise<Claim> {
    if (!this.redis.available) {
      this.redis.fallback(`${kind} lease`, new Error(this.redis.lastError ?? 'not connected'));
      return { kind: 'alone' };
    }
    const leaseKey = this.leaseKey(kind, id);
    const doneKey = this.redis.key('done', `{${kind}:${id}}`);
    const token = `${this.owner}/${randomUUID()}`;
    /** The holder this replica waits for (its commit leaves its token in the done key). */
    let waitingFor: string | undefined;
    try {
      for (;;) {
        const look = this.redis.retried((c) => c.eval(ACQUIRE, 2, leaseKey, doneKey, token, this.redis.leaseTime, waitingFor ?? ''));
        const [taken, holder, done] = (await look) as [number, string, string | null];
        if (taken === 2) {
          this.metrics.observeLease(kind, 'coalesced');
          return { kind: 'committed' };
        }
        if (taken === 1) {
          if (waitingFor !== undefined) {
            this.metrics.observeLease(kind, 'takeover');
            this.log.info({ kind, id, from: waitingFor }, 'lease lapsed without a commit; taken over');
          }
          return { kind: 'held', lease: new Lease(this.redis, leaseKey, doneKey, token, this.channel, waitingFor !== undefined, done !== null) };
        }
        if (waitingFor === undefined) this.metrics.observeLease(kind, 'lease-wait');
        waitingFor = holder;
        await this.nextLook(leaseKey);
      }
    } catch (err) {
      this.redis.fallback(`${kind} lease`, err);
      return { kind: 'alone' };
    }
  }

  /**
   * `work` once across replicas for (kind, id): run here under the lease, or waited for and read
   * from storage once another replica committed it. A result already committed by another replica
   * just before this one took the lease is read from storage too, and so is one a holder stored
   * before it died or lost Redis, unreleased (a lease taken over).
   */
  async run<T>(kind: LeaseKind, id: string, work: () => Promise<T>, fromStorage: () => Promise<{ value: T } | undefined>): Promise<T> {
    const claim = await this.claim(kind, id);
    if (claim.kind === 'alone') return work();
    if (claim.kind === 'committed') return ((await fromStorage()) ?? { value: await work() }).value;
    let committed = false;
    try {
      const stored = claim.lease.recentCommit || claim.lease.takenOver ? await fromStorage() : undefined;
      if (stored) return stored.value;
      const value = await work();
      committed = true;
      return value;
    } finally {
      await claim.lease.release(committed);
    }
  }

  /** A SingleFlight of one kind, for the Inflight coalescer. */
  flight(kind: LeaseKind): SingleFlight {
    return { run: (key, work, fromStorage) => this.run(kind, key, work, fromStorage) };
  }

  /** Resolves on the key's next commit message, or after the poll interval. */
  private nextLook(key: string): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      const look = () => {
        clearTimeout(timer);
        set.delete(look);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(look, this.pollMs);
      set.add(look);
    });
  }

  private wake(key: string): void {
    for (const look of [...(this.waiters.get(key) ?? [])]) look();
  }
}

/** A held lease: heartbeats until released. */
export class Lease {
  private readonly heartbeat: NodeJS.Timeout;
  private released = false;
  /** The heartbeat on its way, if any: the release waits for it, so it cannot take the lease again after. */
  private beating?: Promise<void>;

  constructor(
    private readonly redis: ClusterRedis,
    readonly key: string,
    private readonly doneKey: string,
    /** The lease's value: `<host>/<pid>/<uuid>` of the replica holding it. */
    readonly token: string,
    private readonly channel: string,
    /** Taken over from a holder that let it lapse without a commit. */
    readonly takenOver: boolean,
    /** Someone committed this key within the last few seconds: the result may be in storage already. */
    readonly recentCommit: boolean,
  ) {
    // beat() never rejects (it counts a failure as a fallback); one at a time, so a slow Redis cannot pile them up.
    this.heartbeat = setInterval(
      () => {
        this.beating ??= this.beat().finally(() => (this.beating = undefined));
      },
      Math.max(100, Math.floor(redis.leaseTime / 3)),
    );
    this.heartbeat.unref();
  }

  /** Ends the lease (never throws); `committed`: the work's result is in storage, waiters may read it. */
  async release(committed: boolean): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    await this.beating;
    try {
      await this.redis.retried((c) => c.eval(RELEASE, 2, this.key, this.doneKey, this.token, committed ? 1 : 0, DONE_MS, this.channel));
    } catch (err) {
      // Waiters see the lease lapse and look in storage (a blob) or do the work themselves.
      this.redis.fallback('lease release', err);
    }
  }

  private async beat(): Promise<void> {
    try {
      const kept = (await this.redis.retried((c) => c.eval(HEARTBEAT, 1, this.key, this.token, this.redis.leaseTime))) as number;
      // Another replica took it over (this one was cut from Redis past the expiry): both fetch; the
      // keys are content-addressed, so the second commit writes the same bytes.
      if (kept === 0) clearInterval(this.heartbeat);
    } catch (err) {
      this.redis.fallback('lease heartbeat', err);
    }
  }
}

// Leases on a real redis-server: two "replicas" (each its own connection and ClusterLeases), one
// holds, the other waits for its commit, takes over a lease that lapsed, and works alone while
// Redis is down; coordination resumes after Redis restarts empty.
import { pino } from 'pino';
import { ClusterLeases, type Claim } from '../../src/cluster/lease.js';
import { ClusterRedis } from '../../src/cluster/redis.js';
import { configSchema } from '../../src/config.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RedisServer } from '../e2e/harness/redis.js';

const log = pino({ level: 'silent' });
const LEASE_MS = 1_000;
let server: RedisServer;
const connections: ClusterRedis[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
}, 30_000);

afterEach(async () => {
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await server.restart();
  await server.command('FLUSHALL');
});

afterAll(() => server.dispose());

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await done()); await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

interface Replica {
  redis: ClusterRedis;
  leases: ClusterLeases;
  metrics: Metrics;
}

/** One replica's leases on its own connection, once it (and its subscription) is ready. */
async function replica(leaseMs = LEASE_MS): Promise<Replica> {
  const settings = configSchema.parse({ cluster: { redis: { url: server.url, leaseTime: `${leaseMs}ms` } } }).cluster!.redis;
  const metrics = new Metrics();
  const redis = new ClusterRedis(settings, log, metrics);
  connections.push(redis);
  const leases = new ClusterLeases(redis, log);
  await until('redis ready', () => redis.available && redis.subscriber.status === 'ready');
  return { redis, leases, metrics };
}

async function counter(metrics: Metrics, name: string): Promise<number> {
  const values = (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

const held = (claim: Claim) => {
  if (claim.kind !== 'held') throw new Error(`expected to hold the lease, got ${claim.kind}`);
  return claim.lease;
};

test('one replica holds; the other waits and hears of the commit', async () => {
  const [a, b] = [await replica(), await replica()];
  const lease = held(await a.leases.claim('blob', 'sha256:aa'));
  expect(await server.command('GET', a.leases.leaseKey('blob', 'sha256:aa'))).toBe(lease.token);
  expect(lease.token.startsWith(a.leases.owner)).toBe(true);
  let settled = false;
  const waiting = b.leases.claim('blob', 'sha256:aa').finally(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(settled).toBe(false);
  await lease.release(true);
  expect(await waiting).toEqual({ kind: 'committed' });
  expect(await counter(b.metrics, 'pullthrough_cluster_lease_waits_total')).toBe(1);
  expect(await counter(b.metrics, 'pullthrough_cluster_coalesced_total')).toBe(1);
  expect(await server.command('EXISTS', a.leases.leaseKey('blob', 'sha256:aa'))).toBe(':0');
});

test('the heartbeat keeps a lease past its lease time', async () => {
  const [a, b] = [await replica(), await replica()];
  const lease = held(await a.leases.claim('manifest', 'docker.io/library/alpine@latest'));
  const waiting = b.leases.claim('manifest', 'docker.io/library/alpine@latest');
  await new Promise((resolve) => setTimeout(resolve, 3 * LEASE_MS));
  expect(await server.command('GET', a.leases.leaseKey('manifest', 'docker.io/library/alpine@latest'))).toBe(lease.token);
  await lease.release(true);
  expect((await waiting).kind).toBe('committed');
});

test('a holder that dies (no heartbeat, no release) is taken over once its lease lapses', async () => {
  const [a, b] = [await replica(), await replica()];
  const lease = held(await a.leases.claim('blob', 'sha256:bb'));
  // Cut the holder from Redis: its heartbeats fail, the key expires, as after a kill -9.
  await a.redis.close();
  const started = Date.now();
  const taken = held(await b.leases.claim('blob', 'sha256:bb'));
  expect(taken.takenOver).toBe(true);
  expect(Date.now() - started).toBeLessThan(LEASE_MS + 2_000); // bounded by the lease time and one poll, not a speed claim
  expect(await server.command('GET', b.leases.leaseKey('blob', 'sha256:bb'))).toBe(taken.token);
  expect(await counter(b.metrics, 'pullthrough_cluster_takeovers_total')).toBe(1);
  await taken.release(true);
  await lease.release(false); // a late release of the dead holder's lease deletes nothing of the new one's
});

test('a release without a commit lets the waiter take the lease at once', async () => {
  const [a, b] = [await replica(), await replica()];
  const lease = held(await a.leases.claim('tag', 'docker.io/library/alpine:latest'));
  const waiting = b.leases.claim('tag', 'docker.io/library/alpine:latest');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await lease.release(false);
  const taken = held(await waiting);
  expect(taken.takenOver).toBe(true);
  await taken.release(false);
});

test('run() does the work once across replicas; the others read it from storage', async () => {
  const [a, b] = [await replica(), await replica()];
  let works = 0;
  let stored: string | undefined;
  const work = async () => {
    works += 1;
    await new Promise((resolve) => setTimeout(resolve, 300));
    stored = 'the manifest';
    return stored;
  };
  const fromStorage = async () => (stored === undefined ? undefined : { value: stored });
  const results = await Promise.all([a, b, a, b].map((r) => r.leases.run('manifest', 'm', work, fromStorage)));
  expect(results).toEqual(['the manifest', 'the manifest', 'the manifest', 'the manifest']);
  expect(works).toBe(1);
});

test('Redis down: claims fall back to working alone, counted; after a restart (empty) they coordinate again', async () => {
  const [a, b] = [await replica(), await replica()];
  const lease = held(await a.leases.claim('blob', 'sha256:cc'));
  const waiting = b.leases.claim('blob', 'sha256:cc');
  await server.stop();
  // The waiter's next poll fails: it works alone rather than wait on a Redis that is gone.
  expect(await waiting).toEqual({ kind: 'alone' });
  // Redis's own words, once the first reconnection is refused.
  await until('refused', () => !b.redis.available && (a.redis.lastError ?? '').includes('ECONNREFUSED'));
  expect(await a.leases.claim('blob', 'sha256:dd')).toEqual({ kind: 'alone' });
  await lease.release(true); // never throws: counted
  expect(await counter(a.metrics, 'pullthrough_cluster_fallbacks_total')).toBeGreaterThanOrEqual(2);
  expect(await counter(b.metrics, 'pullthrough_cluster_fallbacks_total')).toBe(1);

  await server.restart();
  await until('back', () => a.redis.available && b.redis.available && b.redis.subscriber.status === 'ready');
  const again = held(await a.leases.claim('blob', 'sha256:ee'));
  const waitingAgain = b.leases.claim('blob', 'sha256:ee');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await again.release(true);
  expect(await waitingAgain).toEqual({ kind: 'committed' });
}, 30_000);

test('a lease still running when Redis comes back empty is taken again by its heartbeat', async () => {
  const [a, b] = [await replica(), await replica()];
  const lease = held(await a.leases.claim('blob', 'sha256:ff'));
  await server.stop();
  await server.restart();
  await until('back', () => a.redis.available && b.redis.available);
  await until('lease retaken', async () => (await server.command('GET', a.leases.leaseKey('blob', 'sha256:ff'))) === lease.token);
  const waiting = b.leases.claim('blob', 'sha256:ff');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await lease.release(true);
  expect((await waiting).kind).toBe('committed');
}, 30_000);

/** Blocks this process's event loop, as a CPU-starved or GC-bound replica does. */
function stall(ms: number): void {
  for (const until = Date.now() + ms; Date.now() < until;);
}

test('a command timed out by a stall of this process (not by Redis) is asked again: no fallback, no second holder', async () => {
  const [a, b] = [await replica(5_000), await replica(5_000)];
  // Redis answers at once, but the answer is read only after the 1 s command timeout fired: the
  // stall runs in an I/O callback (after a reply), so the loop's next timers phase comes before its next poll.
  await server.command('PING');
  const claiming = a.leases.claim('blob', 'sha256:a1');
  stall(1_300);
  const lease = held(await claiming);
  expect(await counter(a.metrics, 'pullthrough_cluster_fallbacks_total')).toBe(0);
  // Not waited for as someone else's: the lease the timed-out look took is this claim's own.
  expect(await counter(a.metrics, 'pullthrough_cluster_lease_waits_total')).toBe(0);
  expect(lease.takenOver).toBe(false);
  // The first ACQUIRE took the lease before it timed out; the second one, with the same token, holds it.
  expect(await server.command('GET', a.leases.leaseKey('blob', 'sha256:a1'))).toBe(lease.token);
  const waiting = b.leases.claim('blob', 'sha256:a1');
  await lease.release(true);
  expect(await waiting).toEqual({ kind: 'committed' });
}, 15_000);

test('Redis paused for less than the retry budget: the claim waits it out; paused past it: alone, counted', async () => {
  const a = await replica();
  await server.command('CLIENT', 'PAUSE', '1500', 'ALL');
  held(await a.leases.claim('blob', 'sha256:a2'));
  expect(await counter(a.metrics, 'pullthrough_cluster_fallbacks_total')).toBe(0);
  await server.command('CLIENT', 'PAUSE', '5000', 'ALL');
  expect(await a.leases.claim('blob', 'sha256:a3')).toEqual({ kind: 'alone' });
  expect(await counter(a.metrics, 'pullthrough_cluster_fallbacks_total')).toBe(1);
}, 20_000);

test('run() after a takeover reads what the dead holder stored before it could release', async () => {
  const [a, b] = [await replica(), await replica()];
  held(await a.leases.claim('manifest', 'm2'));
  // The holder stored the manifest, then died before its release: no commit was signalled.
  const stored = 'the manifest';
  await a.redis.close();
  let works = 0;
  const work = async () => {
    works += 1;
    return 'fetched again';
  };
  expect(await b.leases.run('manifest', 'm2', work, async () => ({ value: stored }))).toBe('the manifest');
  expect(works).toBe(0);
  expect(await counter(b.metrics, 'pullthrough_cluster_takeovers_total')).toBe(1);
});

// The cluster's usage index on a real redis-server: two replicas' indexes share sizes, access
// times, the total and in-use marks; one evicts at a time; a Redis that is down or came back empty
// costs no operation.
import { pino } from 'pino';
import { ClusterRedis } from '../../src/cluster/redis.js';
import { ClusterUsageIndex, REMOTE_PIN_MS } from '../../src/cluster/usage.js';
import { configSchema } from '../../src/config.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RedisServer } from '../e2e/harness/redis.js';

const log = pino({ level: 'silent' });
let server: RedisServer;
const connections: ClusterRedis[] = [];
const indexes: ClusterUsageIndex[] = [];
let clock = 1_000_000;
const now = () => clock;

beforeAll(async () => {
  server = await RedisServer.start();
}, 30_000);

afterEach(async () => {
  for (const index of indexes.splice(0)) index.close();
  await Promise.all(connections.splice(0).map((c) => c.close()));
  await server.restart();
  await server.command('FLUSHALL');
});

afterAll(() => server.dispose());

async function until(what: string, done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !done(); await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** One replica's index on its own connection, once the connection is ready. */
async function replica(metrics = new Metrics()): Promise<ClusterUsageIndex> {
  const settings = configSchema.parse({ cluster: { redis: server.url } }).cluster!.redis;
  const redis = new ClusterRedis(settings, log, metrics);
  connections.push(redis);
  await until('redis ready', () => redis.available);
  const index = new ClusterUsageIndex(redis, now);
  indexes.push(index);
  return index;
}

/** Lets the fire-and-forget writes reach Redis: a later command on the same connection answers after them. */
const flushed = (index: ClusterUsageIndex) => index.refresh();

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

test('the total and access times are the cluster’s: a replica that never saw a blob knows its size and when it was used', async () => {
  const [a, b] = [await replica(), await replica()];
  clock = 2_000_000;
  a.add(digest(1), 100);
  a.add(digest(2), 200);
  b.add(digest(3), 300);
  await flushed(a);
  await flushed(b);
  await a.refresh();
  await b.refresh();
  expect([a.totalBytes, b.totalBytes]).toEqual([600, 600]);

  clock = 3_000_000;
  a.touch(digest(1));
  await flushed(a);
  // B's round sees A's blobs with A's access times, not as ancient strangers.
  const seen = await b.exclusive(async () => b.all().map((u) => [u.digest, u.size, u.lastAccess]));
  expect(seen?.sort()).toEqual(
    [
      [digest(1), 100, 3_000_000],
      [digest(2), 200, 2_000_000],
      [digest(3), 300, 2_000_000],
    ].sort(),
  );
});

test('concurrent adds, resizes and removes from two replicas keep the total equal to the sum of the sizes', async () => {
  const [a, b] = [await replica(), await replica()];
  for (let i = 0; i < 300; i++) {
    const index = i % 2 === 0 ? a : b;
    const d = digest(i % 17);
    if (i % 5 === 4) index.remove(d);
    else index.add(d, 1000 + ((i * 7919) % 500));
  }
  await flushed(a);
  await flushed(b);
  const sizes = JSON.parse(await server.command('EVAL', "return cjson.encode(redis.call('HVALS', KEYS[1]))", '1', 'pullthrough:usage:size')) as string[];
  const sum = sizes.reduce((t, s) => t + Number(s), 0);
  expect(Number(await server.command('GET', 'pullthrough:usage:total'))).toBe(sum);
  await a.refresh();
  expect(a.totalBytes).toBe(sum);
});

test('one replica evicts at a time: the other’s round does not run while the lease is held', async () => {
  const [a, b] = [await replica(), await replica()];
  let releaseA!: () => void;
  const held = new Promise<void>((resolve) => (releaseA = resolve));
  const roundA = a.exclusive(() => held.then(() => 'a'));
  while ((await server.command('EXISTS', 'pullthrough:usage:lease')) !== ':1') await new Promise((resolve) => setTimeout(resolve, 10));
  let ranB = false;
  expect(await b.exclusive(async () => (ranB = true))).toBeUndefined();
  expect(ranB).toBe(false);
  releaseA();
  expect(await roundA).toBe('a');
  await flushed(a);
  expect(await b.exclusive(async () => 'b')).toBe('b');
});

test('a blob another replica is reading counts as in use in this replica’s round: until it is done, or its mark lapses', async () => {
  const [a, b] = [await replica(), await replica()];
  const pinnedForB = () => b.exclusive(async () => [b.isPinned(digest(7)), b.isPinned(digest(8))]);
  a.add(digest(7), 10);
  a.add(digest(8), 10);
  const release7 = a.pin(digest(7));
  a.pin(digest(8)); // never released: a replica that died mid-read
  await flushed(a);
  expect(await pinnedForB()).toEqual([true, true]);
  release7();
  await flushed(a);
  expect(await pinnedForB()).toEqual([false, true]);
  a.close(); // no more refreshes
  clock += REMOTE_PIN_MS + 1;
  expect(await pinnedForB()).toEqual([false, false]);
});

test('Redis down: operations go on alone and count fallbacks; Redis back empty: the replicas seed it with their views', async () => {
  const metrics = new Metrics();
  const [a, b] = [await replica(metrics), await replica()];
  a.add(digest(1), 100);
  b.add(digest(2), 200);
  await flushed(a);
  await flushed(b);

  await server.stop();
  await until('A sees Redis down', () => !connections[0]!.available);
  a.add(digest(3), 300);
  a.touch(digest(1));
  a.pin(digest(3))();
  await a.refresh();
  // A's own view: what it added, Redis's share unknown.
  expect(a.totalBytes).toBe(400);
  expect(await a.exclusive(async () => 'alone')).toBe('alone');
  const fallbacks = (await metrics.registry.getSingleMetric('pullthrough_cluster_fallbacks_total')!.get()).values;
  expect(fallbacks.reduce((t, v) => t + v.value, 0)).toBeGreaterThan(0);

  await server.restart();
  await until('both reconnected', () => connections.every((c) => c.available));
  await a.refresh(); // finds no total: seeds A's view
  await b.refresh(); // B's too
  await a.refresh();
  expect(a.totalBytes).toBe(600);
});

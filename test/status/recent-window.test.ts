// The last-hour window behind the status page: old minutes drop out, memory stays bounded.
import { RecentErrors } from '../../src/observability/recent-errors.js';
import { RecentTraffic } from '../../src/observability/recent-traffic.js';

const MINUTE = 60_000;

test('traffic older than an hour drops out of the window, minute by minute', () => {
  let now = 10 * 60 * MINUTE;
  const traffic = new RecentTraffic(() => now);
  traffic.request('blob', 'miss', 'upstream', 1000);
  traffic.upstreamBytes('docker.io', 1000);
  now += 30 * MINUTE;
  traffic.request('blob', 'hit', 'cache', 1000);
  traffic.pullSaved('docker.io');
  expect(traffic.window()).toMatchObject({ results: { blob: { miss: 1, hit: 1 } }, servedBytes: { cache: 1000, upstream: 1000 } });
  now += 30 * MINUTE; // the first request is now exactly an hour old
  expect(traffic.window()).toMatchObject({ results: { manifest: {}, blob: { hit: 1 } }, servedBytes: { cache: 1000, upstream: 0 } });
  expect(traffic.window().upstreams['docker.io']).toEqual({ pullsSaved: 1, pullsMade: 0, rateLimited: 0, bytes: 0 });
  now += 2 * 60 * MINUTE; // a slot reused after wrapping around starts empty
  traffic.request('manifest', 'hit', 'cache', 10);
  expect(traffic.window()).toMatchObject({ results: { manifest: { hit: 1 }, blob: {} }, servedBytes: { cache: 10, upstream: 0 }, upstreams: {} });
});

test('distinct errors: counted per key, newest first, at most `max`, forgotten after `keepMs`', () => {
  let now = 1_000_000;
  const errors = new RecentErrors(2, 10 * MINUTE, () => now);
  errors.record('warn', 'a', { path: '/a', err: new Error('boom') }, 'request');
  now += 1000;
  errors.record('info', 'b', { path: '/b' }, 'request');
  errors.record('warn', 'a', { path: '/a', err: new Error('boom again') }, 'request');
  expect(errors.list().map((e) => [e.fields.path, e.count, e.fields.err])).toEqual([
    ['/a', 2, 'boom again'],
    ['/b', 1, undefined],
  ]);
  errors.record('error', 'c', { path: '/c' }, 'request'); // over max: the least recent (b) goes
  expect(errors.list().map((e) => e.fields.path)).toEqual(['/c', '/a']);
  now += 10 * MINUTE + 1;
  expect(errors.list()).toEqual([]);
});

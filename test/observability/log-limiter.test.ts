import { LogLimiter, rateLimited } from '../../src/observability/log-limiter.js';
import { captureLog } from './capture-log.js';

describe('LogLimiter', () => {
  test('first line written, repeats counted, one summary per window, then forgotten', () => {
    const { log, lines } = captureLog();
    const limiter = new LogLimiter(log, { windowMs: 60_000 });
    for (let i = 0; i < 1000; i++) limiter.write('warn', 'k', { i }, 'upstream failed');
    limiter.write('warn', 'other', { i: -1 }, 'something else');
    expect(lines.map((l) => l.msg)).toEqual(['upstream failed', 'something else']);
    expect(lines[0]).toMatchObject({ level: 40, i: 0 });

    limiter.flush();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ msg: 'upstream failed: repeated 999 times in the last 60s', repeated: 999, i: 999 });

    // Repeats in the next window are summarised again; a key quiet for a window starts afresh.
    limiter.write('warn', 'k', { i: 1000 }, 'upstream failed');
    limiter.flush();
    expect(lines[3]).toMatchObject({ repeated: 1 });
    limiter.flush();
    limiter.write('warn', 'k', { i: 1001 }, 'upstream failed');
    expect(lines[4]).toMatchObject({ msg: 'upstream failed', i: 1001 });
    expect(lines[4]!.repeated).toBeUndefined();
    limiter.close();
  });

  test('past maxKeys distinct lines, new keys are only counted', () => {
    const { log, lines } = captureLog();
    const limiter = new LogLimiter(log, { maxKeys: 10 });
    for (let i = 0; i < 500; i++) limiter.write('info', `path ${i}`, {}, 'request');
    expect(lines).toHaveLength(10);
    limiter.close();
    expect(lines.at(-1)).toMatchObject({ suppressed: 490, msg: '490 log lines suppressed in the last 60s: more than 10 distinct errors' });
  });

  test('lines below the logger level are neither written nor tracked', () => {
    const { log, lines } = captureLog('error');
    const limiter = new LogLimiter(log);
    limiter.write('warn', 'k', {}, 'hidden');
    limiter.close();
    expect(lines).toEqual([]);
  });

  test('rateLimited(): a pino Logger whose warn and error lines are limited by message and fields', () => {
    const { log, lines } = captureLog();
    const limiter = new LogLimiter(log);
    const limited = rateLimited(log, limiter);
    for (let i = 0; i < 100; i++) limited.warn({ upstream: 'docker.io', err: 'ECONNREFUSED' }, 'upstream failed; serving stale tag');
    limited.warn({ upstream: 'docker.io', err: new Error('other') }, 'upstream failed; serving stale tag');
    for (let i = 0; i < 3; i++) limited.info({ i }, 'not limited');
    expect(limited.isLevelEnabled('info')).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual([
      'upstream failed; serving stale tag',
      'upstream failed; serving stale tag',
      'not limited',
      'not limited',
      'not limited',
    ]);
    limiter.close();
    expect(lines.at(-1)).toMatchObject({ repeated: 99 });
  });
});

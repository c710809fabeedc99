import { coalesced, runChecks, type Check } from '../../src/observability/readiness.js';

const check = (name: string, critical: boolean, run: Check['run']): Check => ({ name, target: name, critical, run });
const ok = () => Promise.resolve();
const fail = (text: string) => () => Promise.reject(new Error(text));

describe('runChecks', () => {
  test('status: failing when a critical check fails, degraded when only others do', async () => {
    expect((await runChecks([check('s', true, ok), check('u', false, ok)])).status).toBe('ok');
    expect((await runChecks([check('s', true, ok), check('u', false, fail('down'))])).status).toBe('degraded');
    const failing = await runChecks([check('s', true, fail('filesystem: open /x: not a directory')), check('u', false, fail('down'))]);
    expect(failing.status).toBe('failing');
    expect(failing.checks[0]).toEqual({ name: 's', target: 's', ok: false, ms: expect.any(Number), error: 'filesystem: open /x: not a directory' });
  });

  test('a check that hangs is cut off at the timeout and its signal aborted', async () => {
    let aborted = false;
    const hang = check('u', false, (signal) => new Promise(() => signal.addEventListener('abort', () => (aborted = true))));
    const result = await runChecks([hang], 100);
    expect(result.checks[0]).toMatchObject({ ok: false, error: 'no answer within 0.1s' });
    expect(aborted).toBe(true);
  });

  test('concurrent callers share one run', async () => {
    let runs = 0;
    const ready = coalesced(() => {
      runs += 1;
      return runChecks([check('s', true, () => new Promise((r) => setTimeout(r, 20)))]);
    });
    await Promise.all([ready(), ready(), ready()]);
    expect(runs).toBe(1);
    await ready();
    expect(runs).toBe(2);
  });
});

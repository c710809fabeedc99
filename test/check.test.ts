import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { json, startMirror, type MirrorUnderTest } from './api/mirror-harness.js';
import { ensureBuilt, runCli } from './cli-harness.js';
import { FakeHub } from './fixtures/fake-hub.js';
import { metric, parseMetrics } from './observability/metrics-text.js';

const PROBE_NOT_A_DIRECTORY = /filesystem: open \S+\/_tmp\/probe-[0-9a-f-]+: not a directory/;

beforeAll(ensureBuilt, 180_000);

describe('broken storage', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('/readyz answers 503 and `pullthrough check` exits 1, both with the OS error text', async () => {
    m = await startMirror();
    expect((await m.get('/readyz')).status).toBe(200);
    // Tests run as root in CI containers, and root ignores permission bits, so chmod 000 breaks
    // nothing. A file where the driver's _tmp directory should be fails for every user alike.
    await rm(join(m.root, '_tmp'), { recursive: true });
    await writeFile(join(m.root, '_tmp'), '');

    const res = await m.get('/readyz');
    const body = json(res.body);
    expect(res.status).toBe(503);
    expect(body.status).toBe('failing');
    expect(body.checks[0]).toMatchObject({ name: 'storage', ok: false, error: expect.stringMatching(PROBE_NOT_A_DIRECTORY) });
    expect(body.checks[1]).toMatchObject({ name: 'upstream docker.io', ok: true });

    const cli = await runCli(['check', '--storage', m.root, '--upstream', m.hub.url]);
    console.log(`GET /readyz → ${res.status}\n${JSON.stringify(body, null, 2)}\n\n$ pullthrough check → exit ${cli.code}\n${cli.stdout}`);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(new RegExp(`^storage +filesystem ${m.root} +FAIL +\\d+ms +${PROBE_NOT_A_DIRECTORY.source}$`, 'm'));
    expect(cli.stdout).toMatch(/^upstream docker\.io +http:\/\/127\.0\.0\.1:\d+ +ok +\d+ms$/m);
    expect(cli.stdout).toMatch(/^status: failing$/m);
    // check never sweeps temps (it may run beside a live server): the broken state is left as found.
    expect((await stat(join(m.root, '_tmp'))).isFile()).toBe(true);

    // Pulls still work, passed through uncached; the failures are counted by operation.
    const image = m.hub.addImage('library/app', '1');
    expect((await m.get(`/v2/library/app/blobs/${image.config}`)).status).toBe(200);
    const samples = parseMetrics((await m.get('/metrics')).body.toString());
    expect(metric(samples, 'pullthrough_storage_errors_total', { driver: 'filesystem', operation: 'health' })).toBe(1);
    expect(metric(samples, 'pullthrough_storage_errors_total', { driver: 'filesystem', operation: 'writer' })).toBe(1);
  }, 30_000);
});

describe('pullthrough check', () => {
  let hub: FakeHub;
  let root: string;
  beforeEach(async () => {
    hub = await FakeHub.start();
    root = await mkdtemp(join(tmpdir(), 'pt-check-'));
  });
  afterEach(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
  });

  test('all well: a table, status ok, exit 0; --json prints the /readyz body', async () => {
    const cli = await runCli(['check', '--storage', root, '--upstream', hub.url]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^CHECK +TARGET +RESULT +TIME +ERROR$/m);
    expect(cli.stdout).toMatch(/^storage +filesystem \S+ +ok +\d+ms$/m);
    expect(cli.stdout).toMatch(/^status: ok$/m);
    const asJson = await runCli(['check', '--storage', root, '--upstream', hub.url, '--json']);
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      status: 'ok',
      checks: [
        { name: 'storage', ok: true },
        { name: 'upstream docker.io', ok: true },
      ],
    });
  }, 30_000);

  test('upstream down: degraded exits 0 (cached content is still served); --strict exits 1', async () => {
    await hub.stop();
    const cli = await runCli(['check', '--storage', root, '--upstream', hub.url]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^upstream docker\.io +\S+ +FAIL +\d+ms +upstream docker\.io unreachable/m);
    expect(cli.stdout).toMatch(/^status: degraded$/m);
    expect((await runCli(['check', '--storage', root, '--upstream', hub.url, '--strict'])).code).toBe(1);
  }, 30_000);

  test('a storage root that cannot exist (under a file) is a failed check saying why, not a crash; nothing is created', async () => {
    await writeFile(join(root, 'file'), '');
    const cli = await runCli(['check', '--storage', join(root, 'file', 'storage'), '--upstream', hub.url]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/FAIL +\d+ms +filesystem: cannot create \S+\/file\/storage: \S+\/file: not a directory$/m);
    expect(cli.stderr).toBe('');
    expect(await readdir(root)).toEqual(['file']);
  }, 30_000);
});

import { randomBytes } from 'node:crypto';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import type { Fault } from '../fixtures/fake-hub-faults.js';
import { captureLog, linesMatching } from '../observability/capture-log.js';
import { herd } from './fault-kit.js';

const CLIENTS = 20;

interface Case {
  fault: (digest: string) => Fault;
  /** What each client gets: a status, and whether the body was cut (a 200 whose connection is destroyed). */
  status: number;
  cut: boolean;
  code: string;
  /** The cause, as the log line and every request line say it. */
  err: (digest: string) => RegExp;
  upstreamStatus?: number;
}

const CASES: [string, Case][] = [
  [
    'digest mismatch',
    {
      fault: (digest) => ({ kind: 'wrongBytes', digest }),
      status: 200,
      cut: true,
      code: 'UNAVAILABLE',
      err: (d) => new RegExp(`^upstream docker\\.io: blob ${d} arrived with digest sha256:(?!${d.slice(7)})[0-9a-f]{64}; discarded$`),
    },
  ],
  [
    'stream cut mid-blob',
    {
      fault: (digest) => ({ kind: 'cut', digest, afterBytes: 400_000 }),
      status: 200,
      cut: true,
      code: 'UNAVAILABLE',
      err: (d) => new RegExp(`^upstream docker\\.io unreachable \\(blob ${d}\\): `),
    },
  ],
  [
    'upstream 503 for the blob',
    {
      fault: (digest) => ({ kind: 'status', match: { kind: 'blob', digest }, status: 503 }),
      status: 503,
      cut: false,
      code: 'UNAVAILABLE',
      err: (d) => new RegExp(`^upstream docker\\.io answered 503 UNAVAILABLE \\(blob ${d}\\): fault 503$`),
      upstreamStatus: 503,
    },
  ],
  [
    // The repeat is held back by the health gate until Retry-After: its own line says so, not another 'blob fetch failed'.
    'upstream 429 for the blob',
    {
      fault: (digest) => ({ kind: 'status', match: { kind: 'blob', digest }, status: 429, headers: { 'Retry-After': '600' } }),
      status: 429,
      cut: false,
      code: 'TOOMANYREQUESTS',
      err: (d) => new RegExp(`^upstream docker\\.io rate limit reached \\(blob ${d}\\): fault 429; nothing cached to serve instead$`),
      upstreamStatus: 429,
    },
  ],
];

/**
 * A blob fetch that fails names its cause once: one 'blob fetch failed' line however many clients
 * read the fetch and however often they retry (the log limiter's key is the line's fields), the
 * same entry on the status page, and the clients' request lines carry the cause instead of only
 * `200 aborted`.
 */
describe('blob fetch failures are logged once, with their cause', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test.each(CASES)(`%s: ${CLIENTS} clients and a repeat, one line`, async (_name, c) => {
    const captured = captureLog();
    m = await startMirror({ log: captured.log });
    const image = m.hub.addImage('library/bad', '1', { layers: [randomBytes(1_000_000)] });
    const digest = image.layers[0]!;
    const path = `/v2/library/bad/blobs/${digest}`;
    m.hub.fault(c.fault(digest));
    // The first transfer is slow, so the herd joins it rather than each starting its own.
    m.hub.fault({ kind: 'slow', digest, chunkBytes: 64 * 1024, delayMs: 10, times: 1 });

    for (const round of ['herd', 'repeat']) {
      const results = await herd(CLIENTS, `${m.url}${path}`);
      for (const r of results) expect([round, r.status, r.error !== undefined]).toEqual([round, c.status, c.cut]);
      await m.server.mirror.blobs.settled();
    }

    // Written by the fetch before it settled: every line there will be is here.
    const failures = captured.lines.filter((l) => l.msg === 'blob fetch failed');
    expect(failures).toEqual([
      {
        level: 40,
        time: expect.any(Number),
        msg: 'blob fetch failed',
        upstream: 'docker.io',
        repository: 'library/bad',
        digest,
        ...(c.upstreamStatus === undefined ? {} : { upstreamStatus: c.upstreamStatus }),
        err: expect.stringMatching(c.err(digest)),
      },
    ]);
    const cause = failures[0]!.err as string;

    // The request lines (limited too) say why the client got no blob.
    const [request] = await linesMatching(captured, (l) => l.msg === 'request' && l.path === path, 1);
    expect(request).toMatchObject({ status: c.status, error: c.code, errorMessage: cause, ...(c.cut ? { aborted: true } : {}) });

    const status = json((await m.get('/status.json')).body) as { errors: { message: string; fields: Record<string, string> }[] };
    const listed = status.errors.filter((e) => e.message === 'blob fetch failed');
    expect(listed).toEqual([expect.objectContaining({ fields: expect.objectContaining({ repository: 'library/bad', digest, err: cause }) })]);
  });
});

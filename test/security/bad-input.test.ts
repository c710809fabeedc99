import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';
import { auditStorage, download, expectNothingWrongStored } from '../faults/fault-kit.js';
import { generateMalformedPaths, type MalformedPath } from './malformed-paths.js';
import { ociCode, rawGet } from './raw-http.js';

const MiB = 1024 * 1024;
const HEX = 'a'.repeat(64);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Malformed requests, each answered with a clear OCI error and never a stack trace or a crash, and
 * none of them reaching the upstream. (test/api/endpoints.test.ts has the first few: uppercase,
 * `..%2f..`, `%2e%2e`, a 300-character name, `bad!tag`, a short digest, `n=-1`.)
 */
describe('bad input', () => {
  let m: MirrorUnderTest;
  let port: number;
  beforeAll(async () => {
    m = await startMirror();
    port = (m.server.server.address() as AddressInfo).port;
  });
  afterAll(async () => m.close());
  beforeEach(() => m.hub.resetCounts());

  const noUpstreamWork = () => {
    expect(m.hub.requests.filter((r) => r.kind === 'manifest' || r.kind === 'blob' || r.kind === 'tags' || r.role === 'cdn')).toEqual([]);
  };

  test.each([
    // names
    ['/v2/library/../../etc/manifests/latest', 'NAME_INVALID'],
    ['/v2/./library/alpine/manifests/latest', 'NAME_INVALID'],
    ['/v2/%2e%2e/%2e%2e/etc/passwd/manifests/latest', 'NAME_INVALID'],
    ['/v2/%2E%2E%2F%2E%2E/manifests/latest', 'NAME_INVALID'],
    ['/v2//etc/passwd/manifests/latest', 'NAME_INVALID'],
    ['/v2/%2fetc%2fpasswd/manifests/latest', 'NAME_INVALID'],
    ['/v2/library\\..\\..\\etc/manifests/latest', 'NAME_INVALID'],
    ['/v2/library%5c..%5cetc/manifests/latest', 'NAME_INVALID'],
    ['/v2/library/alpine%00/manifests/latest', 'NAME_INVALID'],
    ['/v2/library/al%00pine/blobs/sha256:' + HEX, 'NAME_INVALID'],
    ['/v2/library/ALPINE/blobs/sha256:' + HEX, 'NAME_INVALID'],
    ['/v2/library/alpine-/manifests/latest', 'NAME_INVALID'],
    ['/v2/library/_alpine/manifests/latest', 'NAME_INVALID'],
    ['/v2/library/al pine/manifests/latest'.replace(' ', '%20'), 'NAME_INVALID'],
    ['/v2/library/%C3%A9/manifests/latest', 'NAME_INVALID'],
    [`/v2/${'a/'.repeat(127)}aa/manifests/latest`, 'NAME_INVALID'], // 256 characters
    [`/v2/${'x'.repeat(4000)}/tags/list`, 'NAME_INVALID'],
    ['/v2/library/alpine//manifests/latest', 'NAME_INVALID'],
    // tags that cannot exist: not found, as distribution answers them
    ['/v2/library/alpine/manifests/.hidden', 'MANIFEST_UNKNOWN'],
    ['/v2/library/alpine/manifests/-dash', 'MANIFEST_UNKNOWN'],
    [`/v2/library/alpine/manifests/${'t'.repeat(129)}`, 'MANIFEST_UNKNOWN'],
    ['/v2/library/alpine/manifests/latest%00', 'MANIFEST_UNKNOWN'],
    ['/v2/library/alpine/manifests/..', 'MANIFEST_UNKNOWN'],
    ['/v2/library/alpine/manifests/la%2ftest', 'MANIFEST_UNKNOWN'],
    ['/v2/library/alpine/manifests/a\\b', 'MANIFEST_UNKNOWN'],
    // digests
    [`/v2/library/alpine/blobs/sha256:${'A'.repeat(64)}`, 'DIGEST_INVALID'],
    [`/v2/library/alpine/blobs/sha256:${'a'.repeat(63)}`, 'DIGEST_INVALID'],
    [`/v2/library/alpine/blobs/sha256:${'a'.repeat(65)}`, 'DIGEST_INVALID'],
    ['/v2/library/alpine/blobs/sha256:', 'DIGEST_INVALID'],
    [`/v2/library/alpine/blobs/:${HEX}`, 'DIGEST_INVALID'],
    [`/v2/library/alpine/blobs/SHA256:${HEX}`, 'DIGEST_INVALID'],
    [`/v2/library/alpine/blobs/sha256:${'g'.repeat(64)}`, 'DIGEST_INVALID'],
    [`/v2/library/alpine/blobs/sha256:../../${'a'.repeat(58)}`, 'NOT_FOUND'],
    [`/v2/library/alpine/blobs/${HEX}`, 'DIGEST_INVALID'],
    [`/v2/library/alpine/manifests/sha256:${'z'.repeat(64)}`, 'DIGEST_INVALID'],
    // endpoints
    ['/v2/library/alpine/manifests/', 'NOT_FOUND'],
    ['/v2/library/alpine/blobs/', 'NOT_FOUND'],
    ['/v3/library/alpine/manifests/latest', 'NOT_FOUND'],
    ['/v2/_catalog/../library/alpine/manifests/latest', 'NAME_INVALID'],
  ])('%s → %s', async (path, code) => {
    const res = await m.getRaw(path);
    expect([res.status, ociCode(res.body)]).toEqual([code === 'NOT_FOUND' || code === 'MANIFEST_UNKNOWN' ? 404 : 400, code]);
    // A malformed sha256 digest is called that, not an unsupported algorithm.
    if (code === 'DIGEST_INVALID') expect(json(res.body).errors[0].message).toBe('invalid digest');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.toString()).not.toMatch(/\bat .*\.[jt]s:\d+|Error:/);
    noUpstreamWork();
  });

  test.each([
    ['sha512', `sha512:${'a'.repeat(128)}`],
    ['sha384', `sha384:${'a'.repeat(96)}`],
    ['md5', `md5:${'a'.repeat(32)}`],
    ['blake3', `blake3:${'a'.repeat(64)}`],
    ['sha256+b64u', 'sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564'],
  ])('digest of another algorithm (%s): content the mirror cannot hold, 404 BLOB_UNKNOWN / MANIFEST_UNKNOWN naming it', async (algorithm, digest) => {
    for (const [kind, code] of [
      ['blobs', 'BLOB_UNKNOWN'],
      ['manifests', 'MANIFEST_UNKNOWN'],
    ]) {
      const res = await m.getRaw(`/v2/library/alpine/${kind}/${digest}`);
      expect([res.status, json(res.body).errors[0].code]).toEqual([404, code]);
      expect(json(res.body).errors[0].message).toContain(`sha256 content only, not ${algorithm}`);
    }
    noUpstreamWork();
  });

  test.each([
    ['a NUL byte in the path', Buffer.from('/v2/library/al\0pine/manifests/latest', 'latin1')],
    ['a space in the path', '/v2/library/al pine/manifests/latest'],
    ['a tab in the path', '/v2/library/alpine/manifests/la\ttest'],
    ['a DEL byte in the path', '/v2/library/al\x7fpine/manifests/latest'],
    ['a raw non-ASCII byte in the path', Buffer.from([...Buffer.from('/v2/library/al'), 0xe9, ...Buffer.from('pine/manifests/latest')])],
    ['a relative request target', 'v2/library/alpine/manifests/latest'],
  ])('%s: the HTTP parser refuses it, still as OCI error JSON: 400 BAD_REQUEST', async (_name, target) => {
    const res = await rawGet(port, target);
    expect([res.status, ociCode(res.body)]).toEqual([400, 'BAD_REQUEST']);
    expect(res.headers['content-type']).toBe('application/json');
    expect((await m.get('/v2/')).status).toBe(200);
  });

  test('headers larger than Node accepts: 431 HEADERS_TOO_LARGE as OCI error JSON; the server carries on', async () => {
    const res = await rawGet(port, `/v2/${'a/'.repeat(10_000)}x/manifests/latest`);
    expect([res.status, ociCode(res.body)]).toEqual([431, 'HEADERS_TOO_LARGE']);
    const header = await rawGet(port, '/v2/', [`X-Big: ${'b'.repeat(20_000)}`]);
    expect(header.status).toBe(431);
    expect((await m.get('/v2/')).status).toBe(200);
  });

  describe('Range', () => {
    const layer = randomBytes(10_000);
    let blobPath: string;
    beforeAll(async () => {
      const image = m.hub.addImage('library/ranged', '1', { layers: [layer] });
      blobPath = `/v2/library/ranged/blobs/${image.layers[0]}`;
      expect((await m.get(blobPath)).status).toBe(200);
    });

    test.each([
      'bytes=abc',
      'items=0-1',
      'bytes=5-2',
      'bytes=--1',
      'bytes=-0',
      'bytes=',
      'bytes=-',
      'bytes=1-2-3',
      'bytes=0-1,2-3,4-5',
      'bytes=0-1, 3-4',
      'bytes=99999999999999999999-',
      'bytes=10000-',
      'bytes=10000-20000',
      'bytes=0x10-0x20',
      'bytes=1e3-2e3',
      `bytes=${'1'.repeat(500)}-`,
    ])('%s → 416 RANGE_INVALID with Content-Range: bytes */size', async (range) => {
      const res = await m.get(blobPath, { range });
      expect([res.status, json(res.body).errors[0].code]).toEqual([416, 'RANGE_INVALID']);
      expect(res.headers['content-range']).toBe(`bytes */${layer.length}`);
    });

    test.each([
      ['bytes=0-', 0, 9_999],
      ['bytes=0-99999999999999', 0, 9_999],
      ['bytes=-99999999', 0, 9_999],
      ['bytes=9999-9999', 9_999, 9_999],
      [' bytes=5-9 ', 5, 9],
    ])('%s → 206 bytes %i-%i (clamped to the blob)', async (range, start, end) => {
      const res = await m.get(blobPath, { range });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${layer.length}`);
      expect(res.body.equals(layer.subarray(start, end + 1))).toBe(true);
    });

    test('a malformed Range on a cold blob: 416, and the fetch it started still stores only verified bytes', async () => {
      const cold = randomBytes(50_000);
      const image = m.hub.addImage('library/cold-ranged', '1', { layers: [cold] });
      const res = await m.get(`/v2/library/cold-ranged/blobs/${image.layers[0]}`, { range: 'bytes=50000-' });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${cold.length}`);
      await expectNothingWrongStored(m);
    });
  });

  describe('manifests over 4 MiB from the upstream', () => {
    test('with Content-Length: refused before reading, 503, nothing stored; exactly 4 MiB is accepted', async () => {
      const over = Buffer.alloc(4 * MiB + 1, 0x20);
      const exact = Buffer.alloc(4 * MiB, 0x20);
      over[0] = 0x7b; // '{'
      // A manifest (JSON with a schemaVersion), padded with spaces to the limit.
      exact.write('{"schemaVersion":2', 0);
      exact[exact.length - 1] = 0x7d; // '}'
      m.hub.addManifest('library/huge', over, OCI_MANIFEST, 'over');
      const exactDigest = m.hub.addManifest('library/huge', exact, OCI_MANIFEST, 'exact');
      const before = (await auditStorage(m.root)).files;
      const res = await m.get('/v2/library/huge/manifests/over');
      expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
      expect(json(res.body).errors[0].message).toMatch(/is 4194305 bytes, over the 4194304-byte limit/);
      expect((await auditStorage(m.root)).files).toEqual(before);

      const ok = await m.get('/v2/library/huge/manifests/exact');
      expect(ok.status).toBe(200);
      expect(ok.headers['docker-content-digest']).toBe(exactDigest);
      await expectNothingWrongStored(m);
    });

    test('chunked, with no Content-Length: refused once 4 MiB is passed, the upstream transfer abandoned, nothing stored', async () => {
      let written = 0;
      let finished = false;
      const upstream: Server = createServer((req, res) => {
        if (req.url === '/v2/' || req.url === '/v2') return void res.end('{}');
        res.writeHead(200, { 'Content-Type': OCI_MANIFEST }); // no Content-Length: chunked
        const chunk = Buffer.alloc(MiB, 0x20);
        const pump = () => {
          while (written < 64 * MiB && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) {
            finished = true;
            res.end();
          }
        };
        pump();
      });
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
      const chunked = await startMirror({ upstream: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` } });
      try {
        const res = await chunked.get('/v2/library/endless/manifests/latest');
        expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
        expect(json(res.body).errors[0].message).toMatch(/over the 4194304-byte limit/);
        expect(finished).toBe(false);
        expect(written).toBeLessThan(64 * MiB);
        expect(await chunked.files()).toEqual([]);
      } finally {
        await chunked.close();
        upstream.closeAllConnections();
        await new Promise((r) => upstream.close(r));
      }
    });
  });

  describe('pagination abuse', () => {
    test.each(['n=abc', 'n=', 'n=1.5', 'n=-0', 'n=+5', 'n=0x10', 'n=99999999999', `n=${'9'.repeat(400)}`, `last=${'x'.repeat(513)}`])(
      '%s → 400 PAGINATION_NUMBER_INVALID on tags and _catalog',
      async (query) => {
        for (const path of ['/v2/library/alpine/tags/list', '/v2/_catalog']) {
          const res = await m.get(`${path}?${query}`);
          expect([path, res.status, json(res.body).errors[0].code]).toEqual([path, 400, 'PAGINATION_NUMBER_INVALID']);
        }
        noUpstreamWork();
      },
    );

    test('n is capped at 1000, repeated parameters take the first, and odd `last` values are only compared, never used as paths', async () => {
      for (let i = 0; i < 3; i++) m.hub.addImage('library/paged', `t${i}`);
      const huge = await m.get('/v2/library/paged/tags/list?n=999999999');
      expect(json(huge.body).tags).toEqual(['t0', 't1', 't2']);
      expect(json((await m.get('/v2/library/paged/tags/list?n=1&n=2')).body).tags).toEqual(['t0']);
      for (const last of ['../../../etc', '%00', '%2F', 'ZZZ%20', '\u00e9']) {
        const tags = await m.get(`/v2/library/paged/tags/list?last=${encodeURIComponent(last)}`);
        expect(tags.status).toBe(200);
        const catalog = await m.get(`/v2/_catalog?n=5&last=${encodeURIComponent(last)}`);
        expect(catalog.status).toBe(200);
        expect(Array.isArray(json(catalog.body).repositories)).toBe(true);
      }
      const link = await m.get('/v2/library/paged/tags/list?n=1&ns=docker.io&evil=%0d%0aX-Injected:%201');
      expect(link.headers.link).toBe('</v2/library/paged/tags/list?ns=docker.io&evil=%0D%0AX-Injected%3A+1&n=1&last=t0>; rel="next"');
      expect(link.headers['x-injected']).toBeUndefined();
      expect((await download(`${m.url}/v2/_catalog?n=0`)).status).toBe(200);
    });
  });
});

/** Runs `work` over `items` with at most `n` in flight. */
async function inBatches<T, R>(items: T[], n: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

describe('fuzz: generated malformed paths', () => {
  // Fixed, so a failure reproduces; printed, so a changed seed can be reproduced too.
  const SEED = Number(process.env.PULLTHROUGH_FUZZ_SEED ?? 20240607);
  const COUNT = 3000;
  let outer: string;
  let m: MirrorUnderTest;
  beforeAll(async () => {
    outer = await mkdtemp(join(tmpdir(), 'pt-fuzz-'));
    m = await startMirror({ root: join(outer, 'storage') });
  });
  afterAll(async () => {
    await m.close();
    await rm(outer, { recursive: true, force: true });
  });

  test(`${COUNT} malformed paths: every answer a 4xx with OCI error JSON, no upstream request, nothing outside the storage layout`, async () => {
    // Something cached first, so the walk below checks a populated tree, not an empty one.
    const layer = randomBytes(20_000);
    const image = m.hub.addImage('library/alpine', 'latest', { layers: [layer] });
    expect((await m.get('/v2/library/alpine/manifests/latest')).status).toBe(200);
    expect((await m.get(`/v2/library/alpine/blobs/${image.layers[0]}`)).status).toBe(200);
    m.hub.resetCounts();

    const paths = generateMalformedPaths(SEED, COUNT);
    const port = (m.server.server.address() as AddressInfo).port;
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
    const answer = async ({ target, raw }: MalformedPath) => {
      if (raw) {
        const res = await rawGet(port, target);
        return { target, status: res.status, type: res.headers['content-type'], body: res.body };
      }
      const res = await pool.request({ path: target, method: 'GET' });
      return { target, status: res.statusCode, type: res.headers['content-type'] as string | undefined, body: Buffer.from(await res.body.arrayBuffer()) };
    };
    let results;
    try {
      results = await inBatches(paths, 32, answer);
    } finally {
      await pool.close();
    }

    const wrong = results.filter(
      (r) =>
        r.status < 400 ||
        r.status > 499 ||
        !(r.type ?? '').startsWith('application/json') ||
        ociCode(r.body) === undefined ||
        /\bat .*\.[jt]s:\d+/.test(r.body.toString()),
    );
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    console.log(`fuzz seed ${SEED}: ${COUNT} paths (${paths.filter((p) => p.raw).length} raw) → ${JSON.stringify(Object.fromEntries(byStatus))}`);
    expect(wrong.slice(0, 5).map((r) => ({ target: JSON.stringify(r.target), status: r.status, body: r.body.toString().slice(0, 200) }))).toEqual([]);

    expect(m.hub.requests.filter((r) => r.role === 'cdn' || ['manifest', 'blob', 'tags'].includes(r.kind))).toEqual([]);
    await expectNothingWrongStored(m);
    // Nothing was written beside the root either (a traversal would land there).
    expect(await readdir(outer)).toEqual(['storage']);
    // And the mirror still serves.
    expect((await m.get(`/v2/library/alpine/blobs/${image.layers[0]}`)).body.equals(layer)).toBe(true);
  }, 60_000);
});

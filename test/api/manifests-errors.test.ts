import { StorageKeyError } from '../../src/storage/base.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { captureLog, linesMatching } from '../observability/capture-log.js';
import { json, pullImage, startMirror, type MirrorUnderTest } from './mirror-harness.js';

/** Headers that describe content: an error response has none of it. */
const CONTENT_HEADERS = ['docker-content-digest', 'etag', 'accept-ranges', 'content-range'];

describe('error answers', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test.each([
    ['manifest', 'manifests/1'],
    ['blob', 'blobs/LAYER'],
  ])('a %s error (503 and 404): JSON only, no content headers; HEAD says the length of the GET body', async (_kind, path) => {
    m = await startMirror({ hub: { rateLimit: false } });
    const image = m.hub.addImage('library/e', '1');
    const url = `/v2/library/e/${path.replace('LAYER', image.layers[0]!)}`;
    m.hub.fault({ kind: 'status', match: {}, status: 503 });
    for (const missing of [url, url.replace(/(manifests\/)1|(blobs\/sha256:)[0-9a-f]{64}/, (_, a, b) => (a ? `${a}nope` : `${b}${'0'.repeat(64)}`))]) {
      if (missing !== url) m.hub.clearFaults();
      const get = await m.get(missing);
      expect(get.status).toBeGreaterThanOrEqual(400);
      expect(get.headers['content-type']).toMatch(/^application\/json/);
      for (const h of CONTENT_HEADERS) expect([h, get.headers[h]]).toEqual([h, undefined]);
      const head = await fetch(`${m.url}${missing}`, { method: 'HEAD' });
      expect(head.status).toBe(get.status);
      expect(head.headers.get('content-length')).toBe(String(get.body.length));
      for (const h of CONTENT_HEADERS) expect([h, head.headers.get(h)]).toEqual([h, null]);
    }
  });

  test('references that cannot exist: an invalid tag and a sha512 digest are not found, a malformed digest is invalid', async () => {
    m = await startMirror();
    m.hub.addImage('library/alpine', '1');
    const answers = async (path: string) => {
      const res = await m.get(path);
      return [res.status, json(res.body).errors[0].code];
    };
    expect(await answers('/v2/library/alpine/manifests/.INVALID')).toEqual([404, 'MANIFEST_UNKNOWN']);
    expect(await answers(`/v2/library/alpine/manifests/sha512:${'a'.repeat(128)}`)).toEqual([404, 'MANIFEST_UNKNOWN']);
    expect(await answers(`/v2/library/alpine/blobs/sha512:${'a'.repeat(128)}`)).toEqual([404, 'BLOB_UNKNOWN']);
    expect(await answers('/v2/library/alpine/manifests/sha256:abc')).toEqual([400, 'DIGEST_INVALID']);
    expect(await answers('/v2/library/alpine/blobs/sha256:abc')).toEqual([400, 'DIGEST_INVALID']);
    expect(await answers('/v2/Library/alpine/manifests/1')).toEqual([400, 'NAME_INVALID']);
    expect(m.hub.count({ role: 'registry' })).toBe(0);
  });

  test('an upstream named with its port (registry.local:5000): pulled, stored under registry.local_5000, listed by its name', async () => {
    m = await startMirror({ upstream: { name: 'registry.local:5000' }, config: {} });
    const image = m.hub.addImage('team/app', '1');
    await pullImage(m, 'team/app');
    const files = await m.files();
    expect(files).toContain(`repositories/registry.local_5000/team/app/_tags/1`);
    expect(files.some((f) => f.includes(':'))).toBe(false);
    m.hub.resetCounts();
    await m.hub.stop();
    expect((await m.get(`/v2/team/app/manifests/1`)).body.equals(image.manifest)).toBe(true);
    expect(json((await m.get('/v2/_catalog')).body).repositories).toEqual(['team/app']);
  });

  test('a storage key error is the bug it is: 500 INTERNAL, logged as an error, not "storage unavailable"', async () => {
    const captured = captureLog();
    // Tag records fail as a key outside the grammar would (what an upstream named with a port once did).
    const broken = (d: StorageDriver): StorageDriver => {
      const w = Object.create(d) as StorageDriver;
      const refuse = <T>(key: string, run: () => Promise<T>) => (key.includes('_tags') ? Promise.reject(new StorageKeyError('repositories/x:y')) : run());
      w.stat = (key) => refuse(key, () => d.stat(key));
      w.get = (key) => refuse(key, () => d.get(key));
      return w;
    };
    m = await startMirror({ log: captured.log, wrapStorage: broken });
    m.hub.addImage('library/k', '1');
    const res = await m.get('/v2/library/k/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([500, 'INTERNAL']);
    expect(json(res.body).errors[0].message).toMatch(/invalid storage key/);
    const [line] = await linesMatching(captured, (l) => l.msg === 'invalid storage key', 1);
    expect(line).toMatchObject({ level: 50, err: 'invalid key: "repositories/x:y"' });
  });
});

import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

/** Upstream 404s for manifests are remembered for notFoundTTL: a CI loop retrying a typo spends no rate limit. */
describe('negative caching of upstream 404s', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('30 requests for a missing tag (HEAD then GET, as docker pull does) cost at most 2 upstream requests, each answered as the upstream answered', async () => {
    m = await startMirror();
    m.hub.addImage('library/app', '1');
    const answers: { method: string; status: number; body: string }[] = [];
    for (let i = 0; i < 15; i++) {
      for (const method of ['HEAD', 'GET']) {
        const res = await fetch(`${m.url}/v2/library/app/manifests/typo`, { method });
        answers.push({ method, status: res.status, body: await res.text() });
      }
    }
    console.log(`404 loop: ${m.hub.count({ kind: 'manifest' })} upstream manifest requests for 30 client requests`);
    expect(m.hub.count({ kind: 'manifest' })).toBeLessThanOrEqual(2);
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([404]));
    const gets = answers.filter((a) => a.method === 'GET');
    expect(json(Buffer.from(gets[0]!.body)).errors[0].code).toBe('MANIFEST_UNKNOWN');
    expect(new Set(gets.map((a) => a.body)).size).toBe(1);
  });

  test('HEAD and GET share the remembered 404; past notFoundTTL the upstream is asked again and a tag pushed meanwhile is found', async () => {
    let now = Date.now();
    m = await startMirror({ upstream: { notFoundTTL: '30s' }, now: () => now });
    expect((await m.get('/v2/library/late/manifests/1')).status).toBe(404);
    const image = m.hub.addImage('library/late', '1');
    m.hub.resetCounts();
    const head = await fetch(`${m.url}/v2/library/late/manifests/1`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect((await m.get('/v2/library/late/manifests/1')).status).toBe(404);
    expect(m.hub.count({ kind: 'manifest' })).toBe(0);
    now += 31_000;
    const found = await m.get('/v2/library/late/manifests/1');
    expect(found.body.equals(image.manifest)).toBe(true);
  });

  test('notFoundTTL 0: every 404 is asked again', async () => {
    m = await startMirror({ upstream: { notFoundTTL: 0 } });
    m.hub.addImage('library/none', 'other');
    for (let i = 0; i < 3; i++) expect((await m.get('/v2/library/none/manifests/1')).status).toBe(404);
    expect(m.hub.count({ kind: 'manifest', status: 404 })).toBe(3);
  });
});

import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

/**
 * An upstream that answers 200 with something that is not what was asked for: a protocol error
 * (503 UNAVAILABLE naming it, never a 500 or an empty list), and the cached copy where there is one.
 */
describe('upstream answers that make no sense', () => {
  let m: MirrorUnderTest;
  beforeEach(async () => {
    m = await startMirror({ hub: { rateLimit: false } });
  });
  afterEach(async () => m.close());

  test.each([
    ['not JSON', 'Service Unavailable'],
    ['JSON of the wrong shape', '{"name":"library/t","tags":"1"}'],
  ])('a tag list that is %s: the cached tags are listed; with none cached, 503 naming it', async (_what, body) => {
    m.hub.addImage('library/t', '1');
    m.hub.addImage('library/t', '2');
    expect((await m.get('/v2/library/t/manifests/1')).status).toBe(200);
    m.hub.fault({ kind: 'status', match: { kind: 'tags' }, status: 200, body });
    const stale = await m.get('/v2/library/t/tags/list');
    expect([stale.status, json(stale.body).tags]).toEqual([200, ['1']]);

    m.hub.addImage('library/u', '1');
    const none = await m.get('/v2/library/u/tags/list');
    expect([none.status, json(none.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
    expect(json(none.body).errors[0].message).toMatch(/^upstream docker\.io: tags of library\/u: not (JSON|a tag list \(tags: )/);
  });

  test('a tag list with "tags": null (distribution, for a repository without tags) is an empty list', async () => {
    m.hub.addImage('library/t', '1');
    m.hub.fault({ kind: 'status', match: { kind: 'tags' }, status: 200, body: '{"name":"library/t","tags":null}' });
    const res = await m.get('/v2/library/t/tags/list');
    expect([res.status, json(res.body).tags]).toEqual([200, []]);
  });

  test.each([
    ['not JSON', '<html>oops</html>', /manifest library\/t:1 is not JSON$/],
    ['JSON but no manifest', '{"hello":"world"}', /manifest library\/t:1 is not a manifest \(schemaVersion: /],
  ])('a manifest that is %s: 503 naming it, nothing stored; a cached digest is still served', async (_what, body, message) => {
    const image = m.hub.addImage('library/t', '1');
    m.hub.fault({ kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 200, body });
    const res = await m.get('/v2/library/t/manifests/1');
    expect([res.status, json(res.body).errors[0].code]).toEqual([503, 'UNAVAILABLE']);
    expect(json(res.body).errors[0].message).toMatch(message);
    expect(await m.files()).toEqual([]);
    m.hub.clearFaults();
    expect((await m.get(`/v2/library/t/manifests/${image.digest}`)).status).toBe(200);
    m.hub.fault({ kind: 'status', match: { kind: 'manifest', method: 'GET' }, status: 200, body });
    expect((await m.get(`/v2/library/t/manifests/${image.digest}`)).body.equals(image.manifest)).toBe(true);
  });
});

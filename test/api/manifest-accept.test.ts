// The client's Accept decides what a manifest request may be answered with, as in distribution's
// registry/handlers/manifests.go: the rules are in src/api/manifest-accept.ts.
import { request } from 'undici';
import { json, startMirror, type HttpResult, type MirrorUnderTest } from './mirror-harness.js';
import { CLIENT_ACCEPT } from '../fixtures/client-accept.js';

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A request with exactly this Accept (several headers for an array, none for undefined). */
async function ask(m: MirrorUnderTest, method: 'GET' | 'HEAD', path: string, accept?: string | string[]): Promise<HttpResult> {
  const res = await request(`${m.url}${path}`, { method, headers: accept === undefined ? {} : { accept } });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

function errorOf(r: HttpResult): { code: string; message: string } {
  return json(r.body).errors[0];
}

/** A Docker manifest list (`docker`) or an OCI index tagged `tag`, of an arm64 and an amd64 image. */
function addMultiArch(m: MirrorUnderTest, repository: string, tag: string, kind: 'docker' | 'oci') {
  const arm = m.hub.addImage(repository, undefined, { mediaType: kind, platform: { os: 'linux', architecture: 'arm64' } });
  const amd = m.hub.addImage(repository, undefined, { mediaType: kind, platform: { os: 'linux', architecture: 'amd64' } });
  const child = (image: typeof amd, architecture: string) => ({
    digest: image.digest,
    size: image.manifest.length,
    mediaType: image.mediaType,
    platform: { os: 'linux', architecture },
  });
  const list = m.hub.addIndex(repository, tag, [child(arm, 'arm64'), child(amd, 'amd64')], kind);
  return { list, amd, arm };
}

describe('manifest Accept, as distribution answers it', () => {
  let m: MirrorUnderTest;
  beforeEach(async () => {
    m = await startMirror();
  });
  afterEach(async () => m.close());

  test.each(['GET', 'HEAD'] as const)('%s: an OCI manifest to a client that does not accept OCI manifests is 404 MANIFEST_UNKNOWN', async (method) => {
    const image = m.hub.addImage('library/oci', '1');
    for (const accept of [`${DOCKER_MANIFEST}, ${DOCKER_LIST}`, undefined, '*/*', 'application/json']) {
      for (const ref of ['1', image.digest]) {
        const res = await ask(m, method, `/v2/library/oci/manifests/${ref}`, accept);
        expect([accept, ref, res.status]).toEqual([accept, ref, 404]);
        if (method === 'GET')
          expect(errorOf(res)).toMatchObject({ code: 'MANIFEST_UNKNOWN', message: 'OCI manifest found, but accept header does not support OCI manifests' });
      }
    }
    expect((await ask(m, method, '/v2/library/oci/manifests/1', OCI_MANIFEST)).status).toBe(200);
  });

  test('an OCI index to a client accepting manifests and Docker lists but not OCI indexes is 404 MANIFEST_UNKNOWN, by tag and by digest', async () => {
    const { list } = addMultiArch(m, 'library/idx', 'latest', 'oci');
    for (const ref of ['latest', list]) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await ask(m, method, `/v2/library/idx/manifests/${ref}`, `${OCI_MANIFEST}, ${DOCKER_MANIFEST}, ${DOCKER_LIST}`);
        expect(res.status).toBe(404);
        if (method === 'GET')
          expect(errorOf(res)).toMatchObject({ code: 'MANIFEST_UNKNOWN', message: 'OCI index found, but accept header does not support OCI indexes' });
      }
    }
    expect((await ask(m, 'GET', '/v2/library/idx/manifests/latest', CLIENT_ACCEPT)).headers['docker-content-digest']).toBe(list);
  });

  test('a Docker manifest list by tag to a schema2-only client: its linux/amd64 child, pulled through, never cached as the tag', async () => {
    const { list, amd } = addMultiArch(m, 'library/multi', 'latest', 'docker');
    const get = await ask(m, 'GET', '/v2/library/multi/manifests/latest', DOCKER_MANIFEST);
    expect(get.status).toBe(200);
    expect(get.headers['docker-content-digest']).toBe(amd.digest);
    expect(get.headers['content-type']).toBe(DOCKER_MANIFEST);
    expect(get.headers['content-length']).toBe(String(amd.manifest.length));
    expect(get.headers.etag).toBe(`"${amd.digest}"`);
    expect(get.body.equals(amd.manifest)).toBe(true);
    // A client that takes lists still gets the list under the tag.
    const whole = await ask(m, 'GET', '/v2/library/multi/manifests/latest', CLIENT_ACCEPT);
    expect(whole.headers['docker-content-digest']).toBe(list);
    expect(whole.headers['content-type']).toBe(DOCKER_LIST);

    await m.hub.stop();
    const head = await ask(m, 'HEAD', '/v2/library/multi/manifests/latest', DOCKER_MANIFEST);
    expect([head.status, head.headers['docker-content-digest'], head.headers['content-length']]).toEqual([200, amd.digest, String(amd.manifest.length)]);
    expect((await ask(m, 'GET', `/v2/library/multi/manifests/${amd.digest}`, DOCKER_MANIFEST)).body.equals(amd.manifest)).toBe(true);
  });

  test('HEAD on a cold Docker list tag for a schema2-only client answers with the child: the list is fetched for its children, the child by HEAD', async () => {
    const { amd } = addMultiArch(m, 'library/cold', '1', 'docker');
    const head = await ask(m, 'HEAD', '/v2/library/cold/manifests/1', DOCKER_MANIFEST);
    expect([head.status, head.headers['docker-content-digest'], head.headers['content-type']]).toEqual([200, amd.digest, DOCKER_MANIFEST]);
    expect(head.body.length).toBe(0);
    expect(m.hub.count({ kind: 'manifest', method: 'GET' })).toBe(1);
  });

  test('a Docker manifest list by digest is served as is, whatever the Accept', async () => {
    const { list } = addMultiArch(m, 'library/multi', 'latest', 'docker');
    for (const accept of [DOCKER_MANIFEST, undefined]) {
      const res = await ask(m, 'GET', `/v2/library/multi/manifests/${list}`, accept);
      expect([res.status, res.headers['docker-content-digest'], res.headers['content-type']]).toEqual([200, list, DOCKER_LIST]);
    }
  });

  test('no Accept: a Docker schema2 manifest is served; a Docker list by tag is 400 MANIFEST_INVALID (its child is schema2)', async () => {
    const image = m.hub.addImage('library/docker', '1', { mediaType: 'docker' });
    const plain = await ask(m, 'GET', '/v2/library/docker/manifests/1');
    expect([plain.status, plain.headers['content-type']]).toEqual([200, DOCKER_MANIFEST]);
    expect(plain.body.equals(image.manifest)).toBe(true);

    addMultiArch(m, 'library/multi', 'latest', 'docker');
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await ask(m, method, '/v2/library/multi/manifests/latest');
      expect(res.status).toBe(400);
      if (method === 'GET') expect(errorOf(res)).toMatchObject({ code: 'MANIFEST_INVALID', message: 'Schema 2 manifest not supported by client' });
    }
  });

  test('a Docker list by tag with no linux/amd64 child, to a client not accepting lists, is 404 MANIFEST_UNKNOWN', async () => {
    const arm = m.hub.addImage('library/armonly', undefined, { mediaType: 'docker', platform: { os: 'linux', architecture: 'arm64' } });
    m.hub.addIndex(
      'library/armonly',
      '1',
      [{ digest: arm.digest, size: arm.manifest.length, mediaType: arm.mediaType, platform: { os: 'linux', architecture: 'arm64' } }],
      'docker',
    );
    const res = await ask(m, 'GET', '/v2/library/armonly/manifests/1', DOCKER_MANIFEST);
    expect(res.status).toBe(404);
    expect(errorOf(res)).toMatchObject({ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' });
  });

  test('several Accept headers, comma lists, parameters (q=0 too) and any case all count', async () => {
    const { list } = addMultiArch(m, 'library/idx', 'latest', 'oci');
    const accepted = async (accept: string | string[]) => (await ask(m, 'GET', '/v2/library/idx/manifests/latest', accept)).status;
    expect(await accepted([DOCKER_MANIFEST, `${OCI_MANIFEST}, ${OCI_INDEX}`])).toBe(200);
    expect(await accepted(`text/plain, ${OCI_INDEX};q=0.5`)).toBe(200);
    expect(await accepted(`${OCI_INDEX}; q=0`)).toBe(200);
    expect(await accepted(OCI_INDEX.toUpperCase())).toBe(200);
    expect(await accepted(['application/*', 'not a type', `${OCI_INDEX}x`])).toBe(404);
    expect((await ask(m, 'GET', '/v2/library/idx/manifests/latest', OCI_INDEX)).headers['docker-content-digest']).toBe(list);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryError } from '../../src/oci/errors.js';
import { RepositoryRules } from '../../src/upstream/repository-rules.js';
import { json, startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

describe('repository allow and deny patterns', () => {
  let m: MirrorUnderTest | undefined;
  afterEach(async () => {
    await m?.close();
    m = undefined;
  });

  test('a denied repository: 403 DENIED naming the rule, and 0 upstream requests', async () => {
    m = await startMirror({ upstream: { repositories: { deny: ['library/evil*'] } } });
    const image = m.hub.addImage('library/evil-app', '1');
    for (const path of ['/v2/library/evil-app/manifests/1', `/v2/library/evil-app/blobs/${image.config}`, '/v2/library/evil-app/tags/list']) {
      const res = await m.get(path);
      expect([path, res.status, json(res.body).errors[0].code]).toEqual([path, 403, 'DENIED']);
      expect(json(res.body).errors[0].message).toBe(
        'repository library/evil-app is not served by this mirror: it matches upstreams.docker.io.repositories.deny "library/evil*"',
      );
    }
    expect(m.hub.requests).toEqual([]);
  });

  test('already cached, then denied: not served either', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pt-rules-'));
    try {
      m = await startMirror({ root });
      const image = m.hub.addImage('library/app', '1');
      expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
      await m.server.close(100);
      await m.hub.close();
      m = await startMirror({ root, upstream: { repositories: { deny: ['library/app'] } } });
      expect((await m.get('/v2/library/app/manifests/1')).status).toBe(403);
      expect((await m.get(`/v2/library/app/manifests/${image.digest}`)).status).toBe(403);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('allow: only matching names are served; the message lists the allow patterns', async () => {
    m = await startMirror({ upstream: { repositories: { allow: ['library/*', 'myorg/**'] } } });
    m.hub.addImage('library/app', '1');
    m.hub.addImage('myorg/team/app', '1');
    m.hub.addImage('other/app', '1');
    expect((await m.get('/v2/library/app/manifests/1')).status).toBe(200);
    expect((await m.get('/v2/alpine/manifests/1')).status).not.toBe(403); // library/alpine at the upstream
    expect((await m.get('/v2/myorg/team/app/manifests/1')).status).toBe(200);
    const refused = await m.get('/v2/other/app/manifests/1');
    expect(refused.status).toBe(403);
    expect(json(refused.body).errors[0].message).toContain('matches none of upstreams.docker.io.repositories.allow ("library/*", "myorg/**")');
    expect(m.hub.count({ repository: 'other/app' })).toBe(0);
  });

  test('globs: * stays within a path component, ** crosses them, a deny wins over an allow', () => {
    const rules = new RepositoryRules('r', { allow: ['a/*', 'b/**'], deny: ['a/secret'] });
    const allowed = (name: string) => {
      try {
        rules.check(name);
        return true;
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'DENIED') return false;
        throw err;
      }
    };
    expect(['a/x', 'b/x', 'b/x/y'].map(allowed)).toEqual([true, true, true]);
    expect(['a/x/y', 'a/secret', 'c/x', 'a.x'].map(allowed)).toEqual([false, false, false, false]);
  });
});

import { randomBytes } from 'node:crypto';
import { parseImageRef } from '../../src/warm/image-ref.js';
import { warmImages, type WarmProgress } from '../../src/warm/warm.js';
import { startMirror, type MirrorUnderTest } from '../api/mirror-harness.js';

function recorder(): WarmProgress & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    planned: (image, blobs) => lines.push(`planned ${image} ${blobs}`),
    transferred: () => undefined,
    blobDone: (image, digest, cached) => lines.push(`${cached ? 'cached' : 'fetched'} ${image} ${digest}`),
    finished: (image, error) => lines.push(`finished ${image}${error ? ` ${error.message}` : ''}`),
  };
}

describe('warm', () => {
  let m: MirrorUnderTest;
  afterEach(async () => m.close());

  test('--platform fetches only that platform of a multi-arch index', async () => {
    m = await startMirror();
    const amd = m.hub.addImage('library/multi', undefined, {
      layers: [randomBytes(1000), randomBytes(1000)],
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const arm = m.hub.addImage('library/multi', undefined, { layers: [randomBytes(1000)], platform: { os: 'linux', architecture: 'arm64' } });
    m.hub.addIndex('library/multi', 'latest', [
      { digest: amd.digest, size: amd.manifest.length, mediaType: amd.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: arm.digest, size: arm.manifest.length, mediaType: arm.mediaType, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    const progress = recorder();
    const [result] = await warmImages(
      m.server.mirror,
      [parseImageRef('multi')],
      { platforms: [{ os: 'linux', architecture: 'arm64' }], concurrency: 2 },
      progress,
    );
    expect(result!.error).toBeUndefined();
    expect(result!.blobs).toBe(2);
    expect(m.hub.count({ kind: 'blob', method: 'GET', status: 307 })).toBe(2);
    expect(
      m.hub.requests
        .filter((r) => r.kind === 'blob')
        .map((r) => r.digest)
        .sort(),
    ).toEqual([arm.config, ...arm.layers].sort());

    // Warm again: everything is cached, nothing fetched upstream.
    m.hub.resetCounts();
    const [again] = await warmImages(
      m.server.mirror,
      [parseImageRef('docker.io/library/multi:latest')],
      { platforms: [{ os: 'linux', architecture: 'arm64' }], concurrency: 2 },
      recorder(),
    );
    expect(again!.cached).toBe(2);
    expect(m.hub.count({ kind: 'blob' })).toBe(0);
  });

  test('all platforms when none is chosen; failures are reported per image', async () => {
    m = await startMirror();
    const amd = m.hub.addImage('library/all', undefined, { platform: { os: 'linux', architecture: 'amd64' } });
    const arm = m.hub.addImage('library/all', undefined, { platform: { os: 'linux', architecture: 'arm64' } });
    m.hub.addIndex('library/all', '1', [
      { digest: amd.digest, size: amd.manifest.length, mediaType: amd.mediaType, platform: { os: 'linux', architecture: 'amd64' } },
      { digest: arm.digest, size: arm.manifest.length, mediaType: arm.mediaType, platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    const progress = recorder();
    const results = await warmImages(
      m.server.mirror,
      [parseImageRef('all:1'), parseImageRef('missing:1'), parseImageRef('quay.io/x/y')],
      { concurrency: 4 },
      progress,
    );
    expect(results[0]!.blobs).toBe(amd.layers.length + arm.layers.length + 2);
    expect(results[1]!.error?.message).toMatch(/repository library\/missing not found upstream docker.io/);
    expect(results[2]!.error?.message).toMatch(/quay.io is not an upstream/);
    expect(progress.lines.filter((l) => l.startsWith('finished'))).toHaveLength(3);
  });

  test('layers an upstream sends without Content-Length (chunked) are warmed and stored, not waited on forever', async () => {
    m = await startMirror();
    const image = m.hub.addImage('library/chunked', '1', { layers: [randomBytes(2 * 1024 * 1024), randomBytes(1000)] });
    for (const digest of [image.config, ...image.layers]) m.hub.fault({ kind: 'chunked', digest, times: 1 });
    const progress = recorder();
    const [result] = await warmImages(m.server.mirror, [parseImageRef('chunked:1')], { concurrency: 2 }, progress);
    expect(result!.error).toBeUndefined();
    expect(progress.lines.filter((l) => l.startsWith('fetched'))).toHaveLength(3);
    const files = await m.files();
    for (const digest of [image.config, ...image.layers]) expect(files).toContain(`blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`);
    expect(m.server.mirror.blobs.inflight).toBe(0);
  });
});

describe('image references', () => {
  test.each([
    ['alpine', { name: 'alpine', reference: 'latest' }],
    ['alpine:3.20', { name: 'alpine', reference: '3.20' }],
    ['docker.io/library/alpine:3.20', { host: 'docker.io', name: 'library/alpine', reference: '3.20' }],
    ['localhost:5000/app', { host: 'localhost:5000', name: 'app', reference: 'latest' }],
    [`ghcr.io/org/app@sha256:${'a'.repeat(64)}`, { host: 'ghcr.io', name: 'org/app', reference: `sha256:${'a'.repeat(64)}` }],
    ['org/app:v1', { name: 'org/app', reference: 'v1' }],
  ])('%s', (text, expected) => {
    expect(parseImageRef(text)).toEqual({ host: undefined, ...expected });
  });
});

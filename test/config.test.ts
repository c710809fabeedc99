import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, resolveConfig } from '../src/config.js';

async function yamlFile(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'pt-cfg-')), 'c.yaml');
  await writeFile(file, text);
  return file;
}

describe('config', () => {
  test('defaults: [::]:5000, ./storage, Docker Hub with a 5 minute tag TTL', () => {
    const c = loadConfig(undefined, {}, {});
    expect(c.listen).toBe('[::]:5000');
    expect(c.storage).toEqual({ driver: 'filesystem', filesystem: { root: './storage' } });
    expect(c.upstreams[0]).toMatchObject({ name: 'docker.io', url: 'https://registry-1.docker.io', tagTTL: 300_000 });
  });

  test('flags override the file, env overrides both', async () => {
    const file = await yamlFile('listen: "127.0.0.1:1"\nstorage: {driver: filesystem, filesystem: {root: /a}}\n');
    const flags = loadConfig(file, { listen: ':2', storage: '/b' }, {});
    expect(flags.listen).toBe(':2');
    expect(flags.storage).toEqual({ driver: 'filesystem', filesystem: { root: '/b' } });
    const env = loadConfig(file, { listen: ':2' }, { PULLTHROUGH_LISTEN: ':3', PULLTHROUGH_STORAGE: '/c', PULLTHROUGH_UPSTREAM: 'http://127.0.0.1:9' });
    expect(env.listen).toBe(':3');
    expect(env.storage).toMatchObject({ filesystem: { root: '/c' } });
    expect(env.upstreams[0]!.url).toBe('http://127.0.0.1:9');
  });

  test("registry:2's REGISTRY_PROXY_* variables configure the default upstream", () => {
    const c = loadConfig(
      undefined,
      {},
      {
        REGISTRY_PROXY_REMOTEURL: 'https://registry-1.docker.io/',
        REGISTRY_PROXY_USERNAME: 'me',
        REGISTRY_PROXY_PASSWORD: 'secret',
      },
    );
    expect(c.upstreams[0]).toMatchObject({ name: 'docker.io', url: 'https://registry-1.docker.io', username: 'me', password: 'secret' });
  });

  test('sizes and durations accept units', async () => {
    const file = await yamlFile('upstreams:\n  - name: ghcr.io\n    url: https://ghcr.io\n    tagTTL: 1h\n    timeouts: {connect: 500ms}\n');
    const c = loadConfig(file, {}, {});
    expect(c.upstreams[0]).toMatchObject({ tagTTL: 3_600_000, timeouts: { connect: 500, headers: 30_000 } });
  });

  test.each([
    ['listen: 5\n', /listen/],
    ['storage: {driver: floppy}\n', /storage\.driver/],
    ['upstreams:\n  - name: docker.io\n    url: ftp://x\n', /upstreams\.0\.url/],
    ['upstreams:\n  - name: docker.io\n    url: https://x\n    tagTTL: soon\n', /upstreams\.0\.tagTTL: not a duration/],
    ['upstreams:\n  - name: docker.io\n    url: https://x\n    tagTtl: 5m\n', /upstreams\.0.*tagTtl/],
    ['log: {level: loud}\n', /log\.level/],
    ['bogus: 1\n', /bogus/],
    ['listen: [unclosed\n', /invalid YAML/],
  ])('a bad config names the bad key: %j', async (text, message) => {
    const file = await yamlFile(text);
    expect(() => loadConfig(file, {}, {})).toThrow(ConfigError);
    expect(() => loadConfig(file, {}, {})).toThrow(message);
  });

  test.each([
    [{}, { PULLTHROUGH_LOG_LEVEL: 'loud' }, /^invalid config from environment variable PULLTHROUGH_LOG_LEVEL: log\.level: .* \(got "loud"\)$/],
    [{ logLevel: 'loud' }, {}, /^invalid config from --log-level: log\.level: .* \(got "loud"\)$/],
    [
      { upstream: 'registry-1.docker.io' },
      {},
      /^invalid config from --upstream: upstreams\.0\.url: must be an http\(s\) URL such as https:\/\/registry-1\.docker\.io \(got "registry-1\.docker\.io"\)$/,
    ],
    [
      {},
      { REGISTRY_PROXY_REMOTEURL: 'ftp://x' },
      /^invalid config from environment variable REGISTRY_PROXY_REMOTEURL: upstreams\.0\.url: .* \(got "ftp:\/\/x"\)$/,
    ],
    [{ listen: ':1' }, { PULLTHROUGH_DEBUG_LISTEN: '' }, null],
  ])('an error names the flag or variable that gave the bad value: %j %j', async (flags, env, message) => {
    const file = await yamlFile('log: {level: info}\n');
    if (message === null) expect(() => loadConfig(file, flags, env)).not.toThrow();
    else expect(() => loadConfig(file, flags, env)).toThrow(message);
    expect(() => loadConfig(file, flags, env)).not.toThrow(file);
  });

  test('a bad value from the file names the file, the key and the value; secrets are not shown', async () => {
    const file = await yamlFile('upstreams:\n  - name: docker.io\n    url: https://x\n    tagTTL: soon\n');
    expect(() => loadConfig(file, {}, {})).toThrow(`invalid config in ${file}: upstreams.0.tagTTL: not a duration: "soon" (try "5m") (got "soon")`);
    const secret = await yamlFile('auth: {tokens: [short-secret]}\n');
    expect(() => loadConfig(secret, {}, {})).toThrow(/auth\.tokens\.0: .* \(got \[redacted\]\)$/);
  });

  test('the environment variables that set something, each with its key (for the start line)', () => {
    const { environment } = resolveConfig(
      undefined,
      { storage: '/flag' },
      { PULLTHROUGH_STORAGE: '/env', REGISTRY_PROXY_REMOTEURL: 'https://a', PULLTHROUGH_UPSTREAM: 'https://b' },
    );
    // PULLTHROUGH_UPSTREAM wins over registry:2's name, so only it is listed.
    expect(environment).toEqual({ PULLTHROUGH_STORAGE: 'storage.filesystem.root', PULLTHROUGH_UPSTREAM: 'upstreams.0.url' });
  });

  test('a missing config file is an error', () => {
    expect(() => loadConfig('/nonexistent/pt.yaml', {}, {})).toThrow(/cannot read config file/);
  });

  test('passwordFile is read at load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pt-cfg-'));
    await writeFile(join(dir, 'pw'), 'hunter2\n');
    const file = await yamlFile(`upstreams:\n  - name: docker.io\n    url: https://x\n    username: u\n    passwordFile: ${join(dir, 'pw')}\n`);
    expect(loadConfig(file, {}, {}).upstreams[0]!.password).toBe('hunter2');
  });
});

// The first ten minutes with the CLI, as a new user meets it: usage and --help, the README's
// commands, config errors that name their source, and the commands agreeing with each other.
import { jest } from '@jest/globals';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, runCli, startCli } from './cli-harness.js';
import { until } from './faults/fault-kit.js';
import { FakeHub } from './fixtures/fake-hub.js';

beforeAll(ensureBuilt, 180_000);
// Each test starts node processes (the README check one per command line); on a loaded CI machine that outlasts jest's 5 s.
jest.setTimeout(30_000);

const COMMANDS = ['serve', 'check', 'client-config', 'gc', 'warm'];
const README = fileURLToPath(new URL('../README.md', import.meta.url));

/** The flags a command line uses: `--upstream`, `--dry-run`. */
function flagsOf(line: string): string[] {
  return [...line.matchAll(/(?:^|[\s[|])(--[a-z][a-z-]*)/g)].map((m) => m[1]!).filter((f) => f !== '--help');
}

describe('usage and --help', () => {
  test('no arguments: usage on stderr, exit 2, and no server started', async () => {
    const cli = await runCli([]);
    expect(cli.code).toBe(2);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toMatch(/^usage: pullthrough COMMAND/m);
    for (const command of COMMANDS) expect(cli.stderr).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  test.each(COMMANDS)('`%s --help`: its usage and an example whose flags are all in it, exit 0', async (command) => {
    for (const args of [
      [command, '--help'],
      ['help', command],
    ]) {
      const cli = await runCli(args);
      expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
      expect(cli.stdout).toMatch(new RegExp(`^usage: pullthrough ${command} `, 'm'));
      const example = /^example:\n {2}(.+)$/m.exec(cli.stdout)?.[1];
      expect(example).toMatch(new RegExp(`^npx pullthrough ${command}( |$)`));
      const usage = cli.stdout.slice(0, cli.stdout.indexOf('\nexample:'));
      for (const flag of flagsOf(example!)) expect(usage).toContain(flag);
    }
  });

  test('an unknown command: usage, exit 2', async () => {
    const cli = await runCli(['srve']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/^unknown command "srve"/);
  });

  test("the README writes every command `npx pullthrough …`, with flags the command's --help lists", async () => {
    const readme = await readFile(README, 'utf8');
    // Commands in code: each line of a fenced block, each inline `…` span (which may wrap).
    const code = [...readme.matchAll(/```[a-z]*\n([\s\S]*?)```|`([^`]+)`/g)].flatMap((m) =>
      m[1] !== undefined ? m[1].split('\n') : [m[2]!.replace(/\n/g, ' ')],
    );
    const lines = code.filter((l) => /\bpullthrough (serve|check|client-config|gc|warm)\b/.test(l));
    expect(lines.length).toBeGreaterThan(5);
    const helps = new Map<string, string>();
    for (const line of lines) {
      const [, command, args] = /\bpullthrough (serve|check|client-config|gc|warm)\b(.*)$/.exec(line)!;
      // `docker run … pullthrough serve …` runs the image's entry point: the arguments still count.
      const inContainer = /\b(docker|podman) run\b/.test(line);
      expect({ line, npx: inContainer || /(^|\s)npx pullthrough /.test(line) }).toEqual({ line, npx: true });
      if (!helps.has(command!)) helps.set(command!, (await runCli([command!, '--help'])).stdout);
      for (const flag of flagsOf(args!)) expect({ line, flag, known: helps.get(command!)!.includes(flag) }).toEqual({ line, flag, known: true });
    }
  });
});

describe('config errors name their source, key and value', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pt-cli-cfg-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  test('PULLTHROUGH_LOG_LEVEL=loud blames the variable, not config/default.yaml', async () => {
    const cli = await runCli(['serve'], { env: { PULLTHROUGH_LOG_LEVEL: 'loud' } });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^pullthrough: invalid config from environment variable PULLTHROUGH_LOG_LEVEL: log\.level: .* \(got "loud"\)$/m);
    expect(cli.stderr).not.toContain('default.yaml');
  });

  test('a registry host without a scheme, from a flag or the file, says what to write', async () => {
    const flag = await runCli(['check', '--upstream', 'registry-1.docker.io']);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toBe(
      'pullthrough: invalid config from --upstream: upstreams.0.url: must be an http(s) URL such as https://registry-1.docker.io (got "registry-1.docker.io")\n',
    );
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'upstreams:\n  - name: docker.io\n    url: registry-1.docker.io\n');
    const fromFile = await runCli(['check', '--config', file]);
    expect(fromFile.stderr).toBe(
      `pullthrough: invalid config in ${file}: upstreams.0.url: must be an http(s) URL such as https://registry-1.docker.io (got "registry-1.docker.io")\n`,
    );
  });

  test('the start line says which settings came from the environment (names, never values)', async () => {
    const hub = await FakeHub.start();
    const root = join(dir, 'storage');
    const server = startCli(['serve', '--listen', '127.0.0.1:0'], {
      env: { PULLTHROUGH_STORAGE: root, PULLTHROUGH_UPSTREAM: hub.url, REGISTRY_PROXY_PASSWORD: 'hunter2-hunter2' },
    });
    try {
      const started = await until('the startup line', () => server.lines.find((l) => l.msg === 'pullthrough listening'));
      expect(started.environment).toEqual({
        PULLTHROUGH_STORAGE: 'storage.filesystem.root',
        PULLTHROUGH_UPSTREAM: 'upstreams.0.url',
        REGISTRY_PROXY_PASSWORD: 'upstreams.0.password',
      });
      expect(started.storage).toBe(`filesystem ${root}`);
      expect(JSON.stringify(server.lines)).not.toContain('hunter2');
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      await hub.close();
    }
  }, 30_000);
});

describe('the commands agree with the server and with each other', () => {
  let hub: FakeHub;
  let dir: string;
  beforeEach(async () => {
    hub = await FakeHub.start();
    dir = await mkdtemp(join(tmpdir(), 'pt-cli-cmd-'));
  });
  afterEach(async () => {
    await hub.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('warm refuses Library/App as the server does (NAME_INVALID), before asking upstream', async () => {
    const cli = await runCli(['warm', 'Library/App:1', '--storage', join(dir, 'storage'), '--upstream', hub.url]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe('pullthrough: Library/App:1: NAME_INVALID: invalid repository name (the server answers the same)\n');
    expect(hub.requests).toEqual([]);
  });

  test('warm creates a storage directory that is not there yet, as serve does', async () => {
    const image = hub.addImage('library/app', '1');
    const root = join(dir, 'new', 'storage');
    const cli = await runCli(['warm', 'app:1', '--storage', root, '--upstream', hub.url]);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cli.stdout).toMatch(/^warmed 1\/1 images/m);
    expect((await stat(join(root, 'blobs', 'sha256', image.layers[0]!.slice(7, 9), image.layers[0]!.slice(7)))).isFile()).toBe(true);
  }, 30_000);

  test('warm --platform linux/arm64 of an amd64-only image fails and says so; no layer is fetched', async () => {
    const image = hub.addImage('library/app', '1', { platform: { os: 'linux', architecture: 'amd64' } });
    const cli = await runCli(['warm', 'app:1', '--platform', 'linux/arm64', '--storage', join(dir, 'storage'), '--upstream', hub.url]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('failed: app:1: the image is linux/amd64 only, not linux/arm64\n');
    expect(hub.requests.filter((r) => r.path.endsWith(image.layers[0]!))).toEqual([]);
  }, 30_000);

  test('check creates no ./storage where it runs; serve could, so the storage check passes', async () => {
    const cli = await runCli(['check', '--upstream', hub.url], { cwd: dir });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^storage +filesystem \.\/storage \(not there yet: serve creates it\) +ok/m);
    expect(await readdir(dir)).toEqual([]);
  }, 30_000);

  test('gc --dry-run reports the stale temps the real run then removes', async () => {
    const root = join(dir, 'storage');
    await mkdir(join(root, '_tmp'), { recursive: true });
    const stale = join(root, '_tmp', 'crashed-writer');
    await writeFile(stale, 'half a blob');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(stale, twoDaysAgo, twoDaysAgo);
    await writeFile(join(root, '_tmp', 'live-writer'), 'in use');

    const dry = await runCli(['gc', '--dry-run', '--storage', root]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would remove 0 blobs .*, 1 stale temps;/);
    expect((await readdir(join(root, '_tmp'))).sort()).toEqual(['crashed-writer', 'live-writer']);

    const real = await runCli(['gc', '--storage', root]);
    expect(real.stdout).toMatch(/removed 0 blobs .*, 1 stale temps;/);
    expect(await readdir(join(root, '_tmp'))).toEqual(['live-writer']);
  }, 30_000);
});

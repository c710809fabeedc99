// `podman login` and `skopeo login` against the mirror with `auth:` on: the Basic challenge on
// GET /v2/ must be one real clients answer, and a pull with the stored credentials must work.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { ensureBuilt, startCli } from '../cli-harness.js';
import { FakeHub } from '../fixtures/fake-hub.js';
import { run } from './harness/run.js';
import { makeTempDir, removeDir } from './harness/tmp.js';

const TIMEOUT_MS = 60_000;
const TOKEN = 'e2e-token-5c0ffee5c0ffee5c';

let work: string;
let hub: FakeHub | undefined;
let mirror: ReturnType<typeof startCli> | undefined;
let host: string;
let digest: string;

async function until<T>(probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the mirror did not start');
}

beforeAll(async () => {
  await ensureBuilt();
  work = await makeTempDir('login');
  hub = await FakeHub.start();
  digest = hub.addImage('library/app', '1').digest;
  await writeFile(join(work, 'htpasswd'), `alice:${bcrypt.hashSync('wonderland', 5)}\n`);
  const config = join(work, 'config.yaml');
  await writeFile(
    config,
    [
      'listen: "127.0.0.1:0"',
      `storage: { driver: filesystem, filesystem: { root: "${join(work, 'storage')}" } }`,
      `upstreams: [{ name: docker.io, url: "${hub.url}" }]`,
      `auth: { htpasswd: "${join(work, 'htpasswd')}", tokens: ["${TOKEN}"] }`,
      '',
    ].join('\n'),
  );
  mirror = startCli(['serve', '--config', config]);
  host = new URL(await until(() => mirror!.lines.find((l) => l.msg === 'pullthrough listening')?.url as string | undefined)).host;
}, TIMEOUT_MS);

afterAll(async () => {
  mirror?.child.kill('SIGTERM');
  await mirror?.exited;
  await hub?.close();
  if (work) await removeDir(work);
}, TIMEOUT_MS);

const authfile = (name: string) => ['--authfile', join(work, `${name}.json`)];

test(
  'podman login: the right password succeeds, a wrong one is refused',
  async () => {
    const ok = await run('podman', ['login', '--tls-verify=false', ...authfile('podman'), '-u', 'alice', '-p', 'wonderland', host], { timeoutMs: TIMEOUT_MS });
    expect(ok.stdout.toString()).toMatch(/Login Succeeded/);
    await expect(
      run('podman', ['login', '--tls-verify=false', ...authfile('podman-bad'), '-u', 'alice', '-p', 'wrong', host], { timeoutMs: TIMEOUT_MS }),
    ).rejects.toThrow(/invalid username\/password|401|unauthorized/i);
  },
  TIMEOUT_MS,
);

test(
  'skopeo login with a static token as the password, then a pull through the mirror with those credentials',
  async () => {
    await run('skopeo', ['login', '--tls-verify=false', ...authfile('skopeo'), '-u', 'ci', '-p', TOKEN, host], { timeoutMs: TIMEOUT_MS });
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', ...authfile('skopeo'), `docker://${host}/library/app:1`], {
      timeoutMs: TIMEOUT_MS,
    });
    expect(JSON.parse(stdout.toString()).Digest).toBe(digest);
    await expect(run('skopeo', ['inspect', '--tls-verify=false', '--no-creds', `docker://${host}/library/app:1`], { timeoutMs: TIMEOUT_MS })).rejects.toThrow(
      /401|unauthorized|authentication required/i,
    );
  },
  TIMEOUT_MS,
);

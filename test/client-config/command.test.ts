import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clientConfigCommand } from '../../src/client-config/command.js';

async function run(...args: string[]): Promise<string> {
  let out = '';
  await clientConfigCommand(args, (text) => {
    out += text;
  });
  return out;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pt-client-config-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('prints the files with their paths', async () => {
  const out = await run('podman', '--mirror', 'http://m:5000', '--upstream', 'docker.io', '--upstream', 'ghcr.io');
  expect(out).toMatch(/^# \/etc\/containers\/registries\.conf\.d\/pullthrough\.conf\n/);
  expect(out).toContain('location = "m:5000/ghcr.io"');
});

test('--write puts each file under DIR at its own path and refuses to replace one without --force', async () => {
  const args = ['containerd', '--mirror', 'http://m:5000', '--upstream', 'docker.io', '--upstream', 'ghcr.io', '--write', dir];
  const out = await run(...args);
  expect(out).toContain(`wrote ${join(dir, 'etc/containerd/certs.d/ghcr.io/hosts.toml')}`);
  const written = await readFile(join(dir, 'etc/containerd/certs.d/docker.io/hosts.toml'), 'utf8');
  expect(written).toContain('[host."http://m:5000/v2"]');

  await writeFile(join(dir, 'etc/containerd/certs.d/docker.io/hosts.toml'), 'mine');
  await expect(run(...args)).rejects.toThrow(/not replacing .*docker\.io\/hosts\.toml.*--force/);
  expect(await readFile(join(dir, 'etc/containerd/certs.d/docker.io/hosts.toml'), 'utf8')).toBe('mine');
  await run(...args, '--force');
  expect(await readFile(join(dir, 'etc/containerd/certs.d/docker.io/hosts.toml'), 'utf8')).toBe(written);
});

test('--write creates nothing when one of several files is in the way', async () => {
  mkdirSync(join(dir, 'etc/containerd/certs.d/ghcr.io'), { recursive: true });
  await writeFile(join(dir, 'etc/containerd/certs.d/ghcr.io/hosts.toml'), 'mine');
  await expect(run('containerd', '--mirror', 'http://m:5000', '--upstream', 'docker.io', '--upstream', 'ghcr.io', '--write', dir)).rejects.toThrow(
    /not replacing/,
  );
  await expect(readFile(join(dir, 'etc/containerd/certs.d/docker.io/hosts.toml'))).rejects.toThrow(/ENOENT/);
});

test.each([
  [[], /needs a client, one of docker, podman, containerd, microk8s, k3s, kind \(got none\)/],
  [['dockr', '--mirror', 'http://m'], /one of docker, podman, containerd, microk8s, k3s, kind \(got "dockr"\)/],
  [['docker'], /needs --mirror URL/],
  [['docker', '--mirror', 'm:5000'], /--mirror must be an http:\/\/ or https:\/\/ URL/],
  [['docker', 'podman', '--mirror', 'http://m'], /takes one client/],
  [['podman', '--mirror', 'http://m', '--upstream', 'https://ghcr.io'], /--upstream must be a registry host name/],
])('%j fails: %s', async (args, message) => {
  await expect(run(...args)).rejects.toThrow(message);
});

test('kind --write puts kind-cluster.yaml and certs.d/ directly under DIR, where kind create cluster runs', async () => {
  await run('kind', '--mirror', 'http://m:5000', '--upstream', 'docker.io', '--upstream', 'quay.io', '--write', dir);
  expect(await readFile(join(dir, 'kind-cluster.yaml'), 'utf8')).toContain('hostPath: ./certs.d');
  expect(await readFile(join(dir, 'certs.d/quay.io/hosts.toml'), 'utf8')).toContain('server = "https://quay.io"');
});

test('--help prints the usage', async () => {
  expect(await run('--help')).toMatch(/^usage: pullthrough client-config/);
});

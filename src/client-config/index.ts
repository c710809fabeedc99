import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { containerdConfig } from './containerd.js';
import { dockerConfig } from './docker.js';
import { k3sConfig } from './k3s.js';
import { kindConfig } from './kind.js';
import { microk8sConfig } from './microk8s.js';
import { ClientConfigError, type ClientConfig, type ClientConfigOptions } from './mirror.js';
import { podmanConfig } from './podman.js';

export { ClientConfigError, parseMirrorUrl, parseUpstreams } from './mirror.js';
export type { ClientConfig, ClientConfigOptions, ClientFile, MirrorUrl } from './mirror.js';

const GENERATORS = {
  docker: dockerConfig,
  podman: podmanConfig,
  containerd: containerdConfig,
  microk8s: microk8sConfig,
  k3s: k3sConfig,
  kind: kindConfig,
} satisfies Record<string, (options: ClientConfigOptions) => ClientConfig>;

export type ClientName = keyof typeof GENERATORS;
export const CLIENT_NAMES = Object.keys(GENERATORS) as ClientName[];

export function isClientName(name: string): name is ClientName {
  return Object.hasOwn(GENERATORS, name);
}

/** The files (and notes) one client needs to pull through the mirror. */
export function generateClientConfig(client: ClientName, options: ClientConfigOptions): ClientConfig {
  return GENERATORS[client](options);
}

/**
 * For a terminal: each file under a `# <path>` header, then the notes. The headers are not part
 * of the files; `--write` (writeClientFiles) writes the files alone.
 */
export function renderClientConfig(config: ClientConfig): string {
  const parts = config.files.map((file) => `# ${file.path}\n${file.content}`);
  if (config.notes.length > 0) parts.push(config.notes.map((note) => `# note: ${note}`).join('\n') + '\n');
  return parts.join('\n');
}

/**
 * Writes each file under `root` at its own path (`root` + `/etc/containerd/...`, as DESTDIR does;
 * kind's relative paths land directly under `root`),
 * creating directories. Refuses to replace an existing file unless `force`: daemon.json in
 * particular usually holds other settings. Returns the paths written.
 */
export async function writeClientFiles(root: string, config: ClientConfig, force = false): Promise<string[]> {
  const targets = config.files.map((file) => ({ target: join(root, file.path), content: file.content }));
  const existing = targets.filter(({ target }) => existsSync(target)).map(({ target }) => target);
  if (existing.length > 0 && !force) {
    throw new ClientConfigError(`not replacing ${existing.join(', ')}: merge by hand, or pass --force`);
  }
  for (const { target, content } of targets) {
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  return targets.map(({ target }) => target);
}

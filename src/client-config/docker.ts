import { DOCKER_HUB, type ClientConfig, type ClientConfigOptions } from './mirror.js';

export const DOCKER_DAEMON_JSON = '/etc/docker/daemon.json';

/**
 * dockerd's `daemon.json`. `registry-mirrors` applies to Docker Hub pulls only: dockerd has no
 * mirror setting for any other registry, so other upstreams get a note, not a setting.
 */
export function dockerConfig(options: ClientConfigOptions): ClientConfig {
  const { mirror, upstreams } = options;
  const insecure = options.insecure || mirror.plainHttp;
  const daemon: Record<string, string[]> = { 'registry-mirrors': [mirror.base] };
  // dockerd talks plain HTTP, or skips TLS verification, only to hosts listed here.
  if (insecure) daemon['insecure-registries'] = [mirror.host];

  const notes = [`merge these keys into any existing ${DOCKER_DAEMON_JSON}, then restart dockerd (systemctl restart docker)`];
  const others = upstreams.filter((name) => name !== DOCKER_HUB);
  if (others.length > 0) {
    notes.push(
      `docker only mirrors Docker Hub (docker.io): registry-mirrors does nothing for ${others.join(', ')}; ` +
        `pull those as ${mirror.hostPath}/${others[0]}/<repository>:<tag>, or use podman or containerd, whose configs mirror any registry`,
    );
  }
  if (!upstreams.includes(DOCKER_HUB)) notes.push('docker.io was not among the upstreams, yet this file only ever mirrors docker.io');
  return { files: [{ path: DOCKER_DAEMON_JSON, content: `${JSON.stringify(daemon, null, 2)}\n` }], notes };
}

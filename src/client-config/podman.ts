import { DOCKER_HUB, tomlString, type ClientConfig, type ClientConfigOptions, type MirrorUrl } from './mirror.js';

export const REGISTRIES_CONF_DROP_IN = '/etc/containers/registries.conf.d/pullthrough.conf';

/**
 * A containers-registries.conf(5) drop-in, read by podman, skopeo, buildah and CRI-O: one
 * `[[registry]]` per upstream with the mirror as its `[[registry.mirror]]`. The registry itself
 * stays the fallback when the mirror fails.
 */
export function podmanConfig(options: ClientConfigOptions): ClientConfig {
  const { mirror, upstreams } = options;
  const insecure = options.insecure || mirror.plainHttp;
  const lines = [
    `# Pull through pullthrough at ${mirror.base} (written by \`pullthrough client-config podman\`).`,
    '# Read by podman, skopeo, buildah and CRI-O on every pull; each registry stays the fallback.',
  ];
  for (const name of upstreams) {
    lines.push(
      '',
      '[[registry]]',
      `location = ${tomlString(name)}`,
      '',
      '[[registry.mirror]]',
      `location = ${tomlString(mirrorLocation(mirror, name))}`,
      `insecure = ${insecure}`,
    );
  }
  return {
    files: [{ path: REGISTRIES_CONF_DROP_IN, content: `${lines.join('\n')}\n` }],
    notes: ['no restart needed: podman, skopeo and buildah read registries.conf.d on every run (CRI-O: systemctl reload crio)'],
  };
}

/**
 * containers/image puts the mirror location in front of the repository, so `mirror:5000/ghcr.io`
 * turns `ghcr.io/org/app` into `/v2/ghcr.io/org/app/...`: the mirror routes by that first
 * component. Docker Hub, the mirror's default upstream, needs no prefix.
 */
export function mirrorLocation(mirror: MirrorUrl, upstream: string): string {
  return upstream === DOCKER_HUB ? mirror.hostPath : `${mirror.hostPath}/${upstream}`;
}

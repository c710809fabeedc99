import { DOCKER_HUB, type ClientConfig, type ClientConfigOptions } from './mirror.js';

export const K3S_REGISTRIES_YAML = '/etc/rancher/k3s/registries.yaml';

/**
 * k3s's (and RKE2's) registries.yaml, from which k3s writes its containerd's hosts.toml files at
 * start. One `mirrors:` entry per upstream, all with the mirror as their endpoint: no `rewrite:`
 * is needed to tell the upstreams apart, because containerd sends `?ns=<registry>` to a mirror
 * endpoint, and the mirror routes by it. A rewrite that prefixed names (`ghcr.io/$1`) would be
 * taken as part of the repository name once `ns` has chosen the upstream.
 */
export function k3sConfig(options: ClientConfigOptions): ClientConfig {
  const { mirror, upstreams, insecure } = options;
  const q = (text: string) => JSON.stringify(text); // a JSON string is a YAML double-quoted scalar
  const lines = [
    `# Pull through pullthrough at ${mirror.base} (written by \`pullthrough client-config k3s\`).`,
    '# containerd adds ?ns=<registry> to each request to the endpoint, which tells the mirror the upstream;',
    '# the registry itself stays the fallback when the mirror fails.',
    'mirrors:',
    ...upstreams.flatMap((name) => [`  ${q(name)}:`, '    endpoint:', `      - ${q(mirror.base)}`]),
  ];
  // A plain-http endpoint needs nothing more; TLS verification is a per-host setting.
  if (insecure && !mirror.plainHttp) lines.push('configs:', `  ${q(mirror.host)}:`, '    tls:', '      insecure_skip_verify: true');
  const notes = [
    `restart k3s to apply (systemctl restart k3s, or k3s-agent on agents); repeat on every node, servers included`,
    `k3s writes /var/lib/rancher/k3s/agent/etc/containerd/certs.d/<registry>/hosts.toml from this file; check there what containerd got`,
  ];
  if (!upstreams.includes(DOCKER_HUB)) notes.push('images named without a registry (alpine, nginx) come from docker.io, which is not mirrored here');
  return { files: [{ path: K3S_REGISTRIES_YAML, content: `${lines.join('\n')}\n` }], notes };
}

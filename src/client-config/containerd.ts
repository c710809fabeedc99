import { DOCKER_HUB, DOCKER_HUB_REGISTRY, tomlString, type ClientConfig, type ClientConfigOptions, type ClientFile } from './mirror.js';

/** Where hosts.toml files go for containerd's CRI plugin (its `config_path`) and for `ctr --hosts-dir`. */
export const CONTAINERD_CERTS_D = '/etc/containerd/certs.d';

/** containerd's `certs.d/<upstream>/hosts.toml`, one per upstream. */
export function containerdConfig(options: ClientConfigOptions): ClientConfig {
  return {
    files: hostsTomlFiles(CONTAINERD_CERTS_D, 'containerd', options),
    notes: [
      `containerd reads hosts.toml on every pull, no restart needed; the CRI plugin (kubelet, crictl) needs config_path = "${CONTAINERD_CERTS_D}" under [plugins."io.containerd.grpc.v1.cri".registry] in /etc/containerd/config.toml`,
      `ctr reads them only when told: ctr images pull --hosts-dir ${CONTAINERD_CERTS_D} <image>`,
    ],
  };
}

/**
 * The hosts.toml files for a certs.d directory (containerd's or microk8s's). containerd sends
 * `?ns=<upstream>` on every request to a mirror host, so one mirror entry per upstream routes
 * without any path prefix. `server` is the fallback when the mirror fails.
 */
export function hostsTomlFiles(certsDir: string, client: string, options: ClientConfigOptions): ClientFile[] {
  const { mirror, upstreams, insecure, overridePath } = options;
  return upstreams.map((name) => {
    const lines = [
      `# ${name} through pullthrough at ${mirror.base} (written by \`pullthrough client-config ${client}\`).`,
      `# containerd adds ?ns=${name} to every request, which tells the mirror the upstream; server is the fallback.`,
      `server = ${tomlString(`https://${name === DOCKER_HUB ? DOCKER_HUB_REGISTRY : name}`)}`,
      '',
      // override_path: use the /v2 path as given. Without it containerd appends /v2 itself.
      `[host.${tomlString(overridePath ? `${mirror.base}/v2` : mirror.base)}]`,
      '  capabilities = ["pull", "resolve"]',
      ...(overridePath ? ['  override_path = true'] : []),
      ...(insecure ? ['  skip_verify = true'] : []),
    ];
    // containerd looks for certs.d/<host:port>/ first, so the name is the directory as is.
    return { path: `${certsDir}/${name}/hosts.toml`, content: `${lines.join('\n')}\n` };
  });
}

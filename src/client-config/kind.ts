import { CONTAINERD_CERTS_D, hostsTomlFiles } from './containerd.js';
import type { ClientConfig, ClientConfigOptions } from './mirror.js';

/** Written relative to a directory of the user's choosing; kind is run from there. */
export const KIND_CLUSTER_CONFIG = 'kind-cluster.yaml';
const KIND_HOSTS_DIR = 'certs.d';

/**
 * A kind cluster whose nodes' containerd pulls through the mirror: `containerdConfigPatches` sets
 * the CRI plugin's `config_path`, and `extraMounts` puts the hosts.toml files (the same ones
 * `client-config containerd` writes) at that path in every node. kind resolves a relative
 * `hostPath` against the directory `kind create cluster` runs in.
 */
export function kindConfig(options: ClientConfigOptions): ClientConfig {
  const hosts = hostsTomlFiles(KIND_HOSTS_DIR, 'kind', options);
  const mount = ['    extraMounts:', `      - hostPath: ./${KIND_HOSTS_DIR}`, `        containerPath: ${CONTAINERD_CERTS_D}`, '        readOnly: true'];
  const cluster = [
    `# A kind cluster pulling through pullthrough at ${options.mirror.base} (written by \`pullthrough client-config kind\`).`,
    `# Run from this directory: kind create cluster --config ${KIND_CLUSTER_CONFIG}`,
    'kind: Cluster',
    'apiVersion: kind.x-k8s.io/v1alpha4',
    'containerdConfigPatches:',
    '  - |-',
    '    [plugins."io.containerd.grpc.v1.cri".registry]',
    `      config_path = "${CONTAINERD_CERTS_D}"`,
    'nodes:',
    '  - role: control-plane',
    ...mount,
    '  - role: worker',
    ...mount,
  ];
  return {
    files: [{ path: KIND_CLUSTER_CONFIG, content: `${cluster.join('\n')}\n` }, ...hosts],
    notes: [
      `the mirror URL must be reachable from inside the node containers: the host's address on the kind network, or a container on it (docker network connect kind pullthrough), not localhost`,
      `containerd reads ${CONTAINERD_CERTS_D} on every pull: edit the mounted hosts.toml files without recreating the cluster`,
    ],
  };
}

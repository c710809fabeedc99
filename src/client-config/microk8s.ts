import { hostsTomlFiles } from './containerd.js';
import type { ClientConfig, ClientConfigOptions } from './mirror.js';

/** microk8s runs its own containerd, with its certs.d inside the snap's data. */
export const MICROK8S_CERTS_D = '/var/snap/microk8s/current/args/certs.d';

/** The same hosts.toml files as containerd's, where microk8s's containerd reads them. */
export function microk8sConfig(options: ClientConfigOptions): ClientConfig {
  return {
    files: hostsTomlFiles(MICROK8S_CERTS_D, 'microk8s', options),
    notes: ['microk8s (1.23 and later) reads hosts.toml on every pull, no restart needed; repeat on every node of the cluster'],
  };
}

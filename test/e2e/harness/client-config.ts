import { CLI } from './pullthrough.js';
import { run } from './run.js';

export interface ClientConfigRequest {
  /** The mirror as the client reaches it, e.g. a Pullthrough's url. */
  mirror: string;
  /** Registry hosts to send through the mirror, e.g. ['docker.io', 'ghcr.io']. */
  upstreams: readonly string[];
  /** More client-config flags, e.g. ['--insecure'] or ['--no-override-path']. */
  flags?: readonly string[];
}

/**
 * Runs the built `pullthrough client-config <client> … --write <root>`, as a user would, so the
 * e2e tests configure every client with exactly what the generator prints. The files land
 * under root at their real paths: root/etc/containerd/certs.d/docker.io/hosts.toml.
 */
export async function writeClientConfig(client: string, request: ClientConfigRequest, root: string): Promise<void> {
  await run(process.execPath, [
    CLI,
    'client-config',
    client,
    '--mirror',
    request.mirror,
    ...request.upstreams.flatMap((name) => ['--upstream', name]),
    ...(request.flags ?? []),
    '--write',
    root,
  ]);
}

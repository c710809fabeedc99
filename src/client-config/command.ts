import { parseArgs } from 'node:util';
import {
  CLIENT_NAMES,
  ClientConfigError,
  generateClientConfig,
  isClientName,
  parseMirrorUrl,
  parseUpstreams,
  renderClientConfig,
  writeClientFiles,
} from './index.js';

export const CLIENT_CONFIG_USAGE = `usage: pullthrough client-config docker|podman|containerd|microk8s|k3s|kind --mirror URL [--upstream NAME]… [--insecure]

  --mirror URL         the mirror as clients reach it, e.g. http://mirror.internal:5000
  --upstream NAME      a registry to pull through the mirror (repeatable; default docker.io)
  --insecure           skip TLS verification (plain-http mirrors are marked insecure for docker and podman anyway)
  --no-override-path   containerd/microk8s/kind: [host."<mirror>"], letting containerd add /v2, instead of [host."<mirror>/v2"] + override_path
  --write DIR          write the files under DIR (DIR/etc/..., for kind DIR/kind-cluster.yaml and DIR/certs.d/) instead of printing them; --force replaces existing ones`;

/** `pullthrough client-config <client> …`: prints (or writes) the files that client needs. */
export async function clientConfigCommand(args: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      mirror: { type: 'string' },
      upstream: { type: 'string', multiple: true },
      insecure: { type: 'boolean', default: false },
      'no-override-path': { type: 'boolean', default: false },
      write: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(`${CLIENT_CONFIG_USAGE}\n`);
    return;
  }
  const [client, ...extra] = positionals;
  if (client === undefined || !isClientName(client)) {
    const got = client === undefined ? 'none' : JSON.stringify(client);
    throw new ClientConfigError(`client-config needs a client, one of ${CLIENT_NAMES.join(', ')} (got ${got})\n\n${CLIENT_CONFIG_USAGE}`);
  }
  if (extra.length > 0) throw new ClientConfigError(`client-config takes one client, got also ${extra.join(' ')}`);
  if (values.mirror === undefined) throw new ClientConfigError(`client-config needs --mirror URL, e.g. --mirror http://mirror.internal:5000`);

  const config = generateClientConfig(client, {
    mirror: parseMirrorUrl(values.mirror),
    upstreams: parseUpstreams(values.upstream ?? []),
    insecure: values.insecure,
    overridePath: !values['no-override-path'],
  });
  if (values.write === undefined) {
    out(renderClientConfig(config));
    return;
  }
  const written = await writeClientFiles(values.write, config, values.force);
  out([...written.map((path) => `wrote ${path}`), ...config.notes.map((note) => `note: ${note}`)].join('\n') + '\n');
}

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launch, LocalServer, type ServerCommand } from './local-server.js';
import { freePort } from './ports.js';
import { run } from './run.js';
import { makeTempDir } from './tmp.js';

/** A 200 MB layer is fetched, then unpacked by copying; this is for a hung pull, not a slow one. */
const PULL_TIMEOUT_MS = 5 * 60_000;

/**
 * A private containerd (Debian's 1.6): its own root, state, sockets and config in a temp dir,
 * never the host's /run/containerd. Only what `ctr images pull` needs is loaded: no CRI plugin,
 * the native snapshotter (plain directories; unpacking bind-mounts a snapshot for a moment and
 * unmounts it). Content is not shared between namespaces, so a pull in a fresh namespace
 * fetches every blob again: that is how the tests pull "cold" from the client's side.
 *
 * containerd serves no HTTP but its metrics endpoint, so that is what LocalServer's port and
 * readiness check use.
 */
export class Containerd extends LocalServer {
  static async create(): Promise<Containerd> {
    const containerd = new Containerd('containerd', await freePort(), await makeTempDir('containerd'));
    return launch(containerd, () => containerd.writeConfig());
  }

  /** The gRPC socket ctr talks to. */
  get socket(): string {
    return join(this.dir, 'containerd.sock');
  }

  private get configFile(): string {
    return join(this.dir, 'config.toml');
  }

  protected command(): ServerCommand {
    return {
      name: 'containerd',
      command: 'containerd',
      args: ['--config', this.configFile],
      readyUrl: `${this.url}/v1/metrics`,
    };
  }

  /**
   * `ctr images pull --hosts-dir <hostsDir>` into `namespace`: containerd resolves the
   * reference's registry (docker.io, ghcr.io) through `<hostsDir>/<registry>/hosts.toml`.
   * `allPlatforms` fetches and unpacks every image of an index, not only linux/amd64.
   */
  async pull(reference: string, options: { namespace: string; hostsDir: string; allPlatforms?: boolean }): Promise<void> {
    await this.ctr(options.namespace, [
      'images',
      'pull',
      '--hosts-dir',
      options.hostsDir,
      '--snapshotter',
      'native',
      ...(options.allPlatforms ? ['--all-platforms'] : []),
      reference,
    ]);
  }

  /** The digest `ctr images ls` records for a reference: what its tag resolved to. */
  async imageDigest(namespace: string, reference: string): Promise<string> {
    const { stdout } = await this.ctr(namespace, ['images', 'ls']);
    // REF TYPE DIGEST SIZE PLATFORMS LABELS, whitespace-separated; refs and digests have no spaces.
    for (const line of stdout.toString('utf8').split('\n').slice(1)) {
      const [ref, , digest] = line.trim().split(/\s+/);
      if (ref === reference && digest) return digest;
    }
    throw new Error(`ctr -n ${namespace} images ls has no ${reference}:\n${stdout.toString('utf8')}`);
  }

  /** Every blob digest in the namespace's content store (manifests, indexes, configs, layers). */
  async contentDigests(namespace: string): Promise<Set<string>> {
    const { stdout } = await this.ctr(namespace, ['content', 'ls', '--quiet']);
    return new Set(
      stdout
        .toString('utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    );
  }

  /** Stops containerd, then checks nothing it mounted under its dir outlived it, and deletes the dir. */
  override async dispose(): Promise<void> {
    await this.stop();
    const leftover = await mountsUnder(this.dir);
    // A killed unpack can leave its temporary bind mount; undo it rather than delete through it.
    for (const target of leftover.reverse()) await run('umount', ['--lazy', target]).catch(() => undefined);
    await super.dispose();
    if (leftover.length > 0) throw new Error(`containerd left mounts behind (unmounted now): ${leftover.join(', ')}`);
  }

  private ctr(namespace: string, args: string[]) {
    // --address on every call: never the host's containerd, whatever CONTAINERD_ADDRESS says.
    return run('ctr', ['--address', this.socket, '--namespace', namespace, ...args], { timeoutMs: PULL_TIMEOUT_MS });
  }

  private writeConfig(): Promise<void> {
    const dir = this.dir;
    const config = `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
# Plugins ctr images pull does not use, and ones that want a host setup (btrfs, zfs, devmapper, CRI).
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "${this.socket}"

[ttrpc]
  address = "${this.socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = "${this.host}"

[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
`;
    return writeFile(this.configFile, config);
  }
}

/** Mount points at or below dir, from this process's mount table. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  // Field 5 is the mount point, with spaces and such octal-escaped.
  return table
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((target): target is string => target !== undefined && (target === dir || target.startsWith(`${dir}/`)));
}

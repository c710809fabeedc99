import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run.js';
import { makeTempDir, removeDir } from './tmp.js';

/** A 200 MB layer lands in vfs as a full copy; this is for a hung pull, not a slow one. */
const PODMAN_TIMEOUT_MS = 5 * 60_000;

/**
 * A throwaway podman image store: its own root, runroot and tmpdir in one temp dir, vfs
 * storage (no overlay mounts, no fuse), cgroupfs and file events (no systemd), and its own
 * registries.conf and signature policy, so nothing of the host's podman setup is read or
 * touched. `podman pull` starts no long-running process, so disposing is deleting the dir.
 */
export class PodmanStore {
  private constructor(
    readonly dir: string,
    private readonly registriesConf: string,
  ) {}

  static async create(registriesConf: string): Promise<PodmanStore> {
    const store = new PodmanStore(await makeTempDir('podman'), registriesConf);
    try {
      await mkdir(join(store.dir, 'tmp'));
      await writeFile(join(store.dir, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
      // Empty: the host's containers.conf and storage.conf (overlay, mount_program) must not apply.
      await writeFile(join(store.dir, 'containers.conf'), '');
      const storage = ['[storage]', 'driver = "vfs"', `graphroot = "${join(store.dir, 'root')}"`, `runroot = "${join(store.dir, 'runroot')}"`];
      await writeFile(join(store.dir, 'storage.conf'), `${storage.join('\n')}\n`);
    } catch (err) {
      await store.dispose();
      throw err;
    }
    return store;
  }

  /** `podman pull`; `arch` picks that platform's image out of an index. */
  async pull(reference: string, options: { arch?: string } = {}): Promise<void> {
    await this.podman(['pull', '--quiet', '--signature-policy', join(this.dir, 'policy.json'), ...(options.arch ? ['--arch', options.arch] : []), reference]);
  }

  /** `podman image inspect` of a pulled image: the fields the tests compare. */
  async inspect(reference: string): Promise<{ digest: string; repoDigests: string[]; architecture: string; layers: number }> {
    const { stdout } = await this.podman(['image', 'inspect', reference]);
    const [image] = JSON.parse(stdout.toString('utf8')) as {
      Digest: string;
      RepoDigests: string[];
      Architecture: string;
      RootFS: { Layers: string[] };
    }[];
    if (!image) throw new Error(`podman image inspect ${reference}: no image`);
    return { digest: image.Digest, repoDigests: image.RepoDigests, architecture: image.Architecture, layers: image.RootFS.Layers.length };
  }

  async dispose(): Promise<void> {
    await removeDir(this.dir);
  }

  private podman(args: string[]) {
    return run(
      'podman',
      [
        '--root',
        join(this.dir, 'root'),
        '--runroot',
        join(this.dir, 'runroot'),
        '--tmpdir',
        join(this.dir, 'tmp'),
        '--storage-driver',
        'vfs',
        '--cgroup-manager',
        'cgroupfs',
        '--events-backend',
        'file',
        ...args,
      ],
      {
        env: {
          ...process.env,
          CONTAINERS_REGISTRIES_CONF: this.registriesConf,
          CONTAINERS_CONF: join(this.dir, 'containers.conf'),
          CONTAINERS_STORAGE_CONF: join(this.dir, 'storage.conf'),
        },
        timeoutMs: PODMAN_TIMEOUT_MS,
      },
    );
  }
}

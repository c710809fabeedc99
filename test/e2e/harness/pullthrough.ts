import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { envWithout } from './env.js';
import { launch, LocalServer, type ServerCommand } from './local-server.js';
import { freePort } from './ports.js';
import { makeTempDir } from './tmp.js';

/**
 * The nearest ancestor holding package.json, not a fixed '../../..': the bench
 * runs this file compiled under dist-bench/test/e2e/harness/.
 */
function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
/** The built server; `npm run test:e2e` runs `npm run build` first. */
export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

/** One entry of the config's `upstreams:` list: the registry host clients name, and where its bytes come from. */
export interface PullthroughUpstream {
  name: string;
  url: string;
}

export interface PullthroughOptions {
  /** The default upstream's URL (--upstream), e.g. an UpstreamRegistry's url. Needs no config file. */
  upstreamUrl?: string;
  /**
   * Several upstreams, the first the default: written to a config file in the mirror's dir and
   * passed with --config, e.g. a local registry playing docker.io and another playing ghcr.io.
   */
  upstreams?: readonly PullthroughUpstream[];
  /** Appended to the serve command line, e.g. ['--config', file]. */
  extraArgs?: readonly string[];
  /** Node's own flags, before the script, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeArgs?: readonly string[];
  /**
   * The config file's `storage:` section, e.g. `{ driver: 's3', s3: {…} }`, instead of the
   * filesystem in the mirror's dir: written to the config file, and no --storage flag is passed.
   */
  storage?: Record<string, unknown>;
  /** More top-level sections of the config file, e.g. `{ cache: { maxSize: '30MiB' }, cluster: { redis: url } }`. */
  config?: Record<string, unknown>;
}

/**
 * The mirror under test, run from dist/ like a user would run it: `node
 * dist/cli.js serve` on a free loopback port, with filesystem storage in its
 * temp dir (or the `storage` option's, e.g. an S3 bucket). Storage survives
 * stop()/start(), so a restart starts warm.
 */
export class Pullthrough extends LocalServer {
  private constructor(
    port: number,
    dir: string,
    private readonly options: PullthroughOptions,
  ) {
    super('pullthrough', port, dir);
  }

  /** Creates and starts a mirror; dispose() it in afterAll. */
  static async create(options: PullthroughOptions): Promise<Pullthrough> {
    if (!existsSync(CLI)) throw new Error(`${CLI} not found: run \`npm run build\` first`);
    if (!options.upstreamUrl && !options.upstreams?.length) throw new Error('Pullthrough needs upstreamUrl or upstreams');
    const mirror = new Pullthrough(await freePort(), await makeTempDir('mirror'), options);
    return launch(mirror, () => mirror.writeConfig());
  }

  get configFile(): string {
    return join(this.dir, 'config.yaml');
  }

  get storageDir(): string {
    return join(this.dir, 'storage');
  }

  protected command(): ServerCommand {
    return {
      name: 'pullthrough',
      command: process.execPath,
      args: [
        this.options.nodeArgs ?? [],
        CLI,
        'serve',
        ['--listen', this.host],
        this.options.storage ? [] : ['--storage', this.storageDir],
        this.writesConfig ? ['--config', this.configFile] : [],
        this.options.upstreamUrl ? ['--upstream', this.options.upstreamUrl] : [],
        this.options.extraArgs ?? [],
      ].flat(),
      cwd: REPO_ROOT,
      // Env overrides both the config file and flags, so a stray PULLTHROUGH_* or REGISTRY_* would beat ours.
      env: envWithout(['PULLTHROUGH_', 'REGISTRY_']),
      readyUrl: `${this.url}/v2/`,
    };
  }

  private get writesConfig(): boolean {
    return this.options.upstreams !== undefined || this.options.storage !== undefined || this.options.config !== undefined;
  }

  /** Only with `upstreams`, `storage` or `config`; flags (--listen, --storage, --upstream) still set the rest. */
  private async writeConfig(): Promise<void> {
    if (!this.writesConfig) return;
    const { upstreams, storage, config } = this.options;
    await writeFile(
      this.configFile,
      stringify({
        ...(upstreams ? { upstreams: upstreams.map(({ name, url }) => ({ name, url })) } : {}),
        ...(storage ? { storage } : {}),
        ...config,
      }),
    );
  }
}

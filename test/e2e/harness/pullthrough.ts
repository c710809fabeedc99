import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envWithout } from './env.js';
import { launch, LocalServer, type ServerCommand } from './local-server.js';
import { freePort } from './ports.js';
import { makeTempDir } from './tmp.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built server; `npm run test:e2e` runs `npm run build` first. */
export const CLI = join(REPO_ROOT, 'dist', 'cli.js');

export interface PullthroughOptions {
  /** The default upstream's URL (--upstream), e.g. an UpstreamRegistry's url. */
  upstreamUrl: string;
  /** Appended to the serve command line, e.g. ['--config', file]. */
  extraArgs?: readonly string[];
}

/**
 * The mirror under test, run from dist/ like a user would run it: `node
 * dist/cli.js serve` on a free loopback port, with filesystem storage in its
 * temp dir. Storage survives stop()/start(), so a restart starts warm.
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
    return launch(new Pullthrough(await freePort(), await makeTempDir('mirror'), options));
  }

  get storageDir(): string {
    return join(this.dir, 'storage');
  }

  protected command(): ServerCommand {
    return {
      name: 'pullthrough',
      command: process.execPath,
      args: [
        CLI,
        'serve',
        ['--listen', this.host],
        ['--storage', this.storageDir],
        ['--upstream', this.options.upstreamUrl],
        this.options.extraArgs ?? [],
      ].flat(),
      cwd: REPO_ROOT,
      // Env overrides both the config file and flags, so a stray PULLTHROUGH_* or REGISTRY_* would beat ours.
      env: envWithout(['PULLTHROUGH_', 'REGISTRY_']),
      readyUrl: `${this.url}/v2/`,
    };
  }
}

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { envWithout } from './env.js';
import { launch, LocalServer, type ServerCommand } from './local-server.js';
import { freePort } from './ports.js';
import { makeTempDir } from './tmp.js';

/** Debian's build of distribution 2.8 (package docker-registry). */
const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface RegistryOptions {
  /**
   * Run as distribution's own pull-through cache of this registry URL
   * (`proxy.remoteurl`) instead of a plain registry: the reference the
   * benchmarks compare pullthrough with. Its storage is then the cache.
   */
  proxyRemoteUrl?: string;
}

/**
 * A real registry playing "Docker Hub" for the mirror: Debian's docker-registry
 * on a free loopback port, storing into its temp dir. Restartable (see
 * LocalServer), so a test can stop the upstream to prove the mirror serves
 * from its cache, and a later test can bring it back with its images intact.
 */
export class UpstreamRegistry extends LocalServer {
  private constructor(
    label: string,
    port: number,
    dir: string,
    private readonly options: RegistryOptions,
  ) {
    super(label, port, dir);
  }

  /** Creates and starts a registry; dispose() it in afterAll. */
  static async create(options: RegistryOptions = {}): Promise<UpstreamRegistry> {
    const [label, dirLabel] = options.proxyRemoteUrl ? ['registry-proxy', 'registry-proxy'] : ['registry', 'upstream'];
    const registry = new UpstreamRegistry(label, await freePort(), await makeTempDir(dirLabel), options);
    return launch(registry, () => registry.writeConfig());
  }

  private get configFile(): string {
    return join(this.dir, 'config.yml');
  }

  protected command(): ServerCommand {
    return {
      name: this.options.proxyRemoteUrl ? 'docker-registry proxy' : 'upstream docker-registry',
      command: REGISTRY_BIN,
      args: ['serve', this.configFile],
      // distribution lets REGISTRY_* override any config key (REGISTRY_PROXY_REMOTEURL would make it a proxy).
      env: envWithout(['REGISTRY_']),
      readyUrl: `${this.url}/v2/`,
    };
  }

  private writeConfig(): Promise<void> {
    const config = {
      version: 0.1,
      log: { level: 'info', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: join(this.dir, 'root') },
        delete: { enabled: true },
      },
      // Fixed, so restarts do not log "generated random secret" and upload state survives them.
      http: { addr: this.host, secret: 'pullthrough-e2e' },
      ...(this.options.proxyRemoteUrl ? { proxy: { remoteurl: this.options.proxyRemoteUrl } } : {}),
    };
    return writeFile(this.configFile, stringify(config));
  }
}

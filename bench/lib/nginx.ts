import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launch, LocalServer, type ServerCommand } from '../../test/e2e/harness/local-server.js';
import { freePort } from '../../test/e2e/harness/ports.js';
import { makeTempDir } from '../../test/e2e/harness/tmp.js';

/**
 * nginx with the bench's common settings; subclasses give the server block. Everything (config,
 * pid, logs, temp) lives in its temp dir; `user root` so its workers can read files the bench (as
 * root) wrote with mode 0600.
 */
abstract class Nginx extends LocalServer {
  protected constructor(port: number, dir: string) {
    super('nginx', port, dir);
  }

  private get configFile(): string {
    return join(this.dir, 'nginx.conf');
  }

  protected command(): ServerCommand {
    return {
      name: 'nginx',
      command: '/usr/sbin/nginx',
      // -e: the error log before the config is read, or nginx tries /var/log/nginx first.
      args: ['-c', this.configFile, '-e', join(this.dir, 'error.log')],
      readyUrl: `${this.url}/healthz`,
    };
  }

  /** The `location` blocks of its one server. */
  protected abstract locations(): string;

  protected async writeConfig(): Promise<void> {
    const tmp = join(this.dir, 'tmp');
    await mkdir(tmp, { recursive: true });
    const running = process.getuid?.() === 0 ? 'user root;' : '';
    const config = `${running}
daemon off;
worker_processes auto;
pid ${join(this.dir, 'nginx.pid')};
error_log ${join(this.dir, 'error.log')};
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp}; uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  server {
    listen ${this.host};
    location = /healthz { return 200 "ok\\n"; }
${this.locations()}
  }
}
`;
    await writeFile(this.configFile, config);
  }
}

/** nginx serving a directory as static files: the practical ceiling for serving a blob from disk (sendfile, no hashing, no HTTP framework). */
export class NginxStatic extends Nginx {
  private constructor(
    port: number,
    dir: string,
    private readonly root: string,
  ) {
    super(port, dir);
  }

  static async create(root: string): Promise<NginxStatic> {
    const nginx = new NginxStatic(await freePort(), await makeTempDir('nginx'), root);
    return launch(nginx, () => nginx.writeConfig());
  }

  protected locations(): string {
    return `    root ${this.root};`;
  }
}

/**
 * A relay in front of a registry that answers without Content-Length, chunked, as Nexus- and
 * Artifactory-style upstreams do: an empty body appended after each answer (the addition
 * module) leaves nginx no length to send. Bytes are passed on unbuffered and unchanged.
 */
export class NginxChunkingRelay extends Nginx {
  private constructor(
    port: number,
    dir: string,
    private readonly upstreamUrl: string,
  ) {
    super(port, dir);
  }

  static async create(upstreamUrl: string): Promise<NginxChunkingRelay> {
    const nginx = new NginxChunkingRelay(await freePort(), await makeTempDir('nginx-chunked'), upstreamUrl);
    return launch(nginx, () => nginx.writeConfig());
  }

  protected locations(): string {
    return `    location / { proxy_pass ${this.upstreamUrl}; proxy_http_version 1.1; proxy_buffering off; addition_types *; add_after_body /_empty; }
    location = /_empty { return 200 ""; }`;
  }
}

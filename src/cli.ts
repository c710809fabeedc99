#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { CHECK_USAGE, checkCommand } from './check.js';
import { CLIENT_CONFIG_USAGE, clientConfigCommand } from './client-config/command.js';
import { CONFIG_OPTIONS, configFromFlags } from './command-config.js';
import { GC_USAGE, gcCommand } from './gc/command.js';
import { PURGE_USAGE, purgeCommand } from './purge/command.js';
import { WARM_USAGE, warmCommand } from './warm/command.js';
import { createLogger, logProcessWarnings } from './observability/logger.js';
import { describeStorage } from './storage/open.js';
import { startServer } from './server.js';
import { VERSION } from './version.js';

const USAGE = `pullthrough ${VERSION}: a pull-through mirror for Docker Hub and other OCI registries

usage: pullthrough COMMAND [OPTIONS]

commands:
  serve          run the mirror
  check          run the /readyz checks (storage, upstreams) without starting a server
  client-config  print the mirror settings for docker, podman, containerd, microk8s, k3s, kind
  gc             remove blobs no cached manifest references
  purge          remove cached images or tags (blobs other images use stay)
  warm           fetch images into the cache ahead of the first pull

Run \`pullthrough COMMAND --help\` for a command's options and an example.`;

const SERVE_USAGE = `usage: pullthrough serve [--config FILE] [--listen HOST:PORT] [--debug-listen HOST:PORT] [--storage DIR] [--upstream URL] [--log-level LEVEL]

Runs the mirror. With no config file and no flags it listens on [::]:5000 (IPv4 and IPv6, no
authentication), caches in ./storage and mirrors Docker Hub.

  --config FILE        YAML config (default: config/default.yaml)
  --listen HOST:PORT   address to listen on (default [::]:5000)
  --debug-listen HOST:PORT  also serve /metrics, /healthz and /readyz (only) here, e.g. 127.0.0.1:9090
  --storage DIR        cache on the filesystem in DIR (default ./storage)
  --upstream URL       registry to mirror (default https://registry-1.docker.io)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default info)

Flags override the file; the environment overrides both: PULLTHROUGH_LISTEN, PULLTHROUGH_DEBUG_LISTEN,
PULLTHROUGH_STORAGE, PULLTHROUGH_UPSTREAM, PULLTHROUGH_LOG_LEVEL, and registry:2's
REGISTRY_PROXY_REMOTEURL, REGISTRY_PROXY_USERNAME, REGISTRY_PROXY_PASSWORD.`;

interface Command {
  usage: string;
  /** Shown under the usage by `--help`: a command line that works as written. */
  example: string;
  run(args: string[]): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: SERVE_USAGE,
    example: 'npx pullthrough serve --listen 127.0.0.1:5000 --storage ./storage',
    run: serve,
  },
  check: {
    usage: CHECK_USAGE,
    example: 'npx pullthrough check --storage ./storage --strict',
    run: async (args) => process.exit(await checkCommand(args)),
  },
  'client-config': {
    usage: CLIENT_CONFIG_USAGE,
    example: 'npx pullthrough client-config containerd --mirror http://mirror.internal:5000 --upstream docker.io --upstream ghcr.io',
    run: (args) => clientConfigCommand(args),
  },
  gc: {
    usage: GC_USAGE,
    example: 'npx pullthrough gc --dry-run --storage ./storage',
    run: gcCommand,
  },
  purge: {
    usage: PURGE_USAGE,
    example: 'npx pullthrough purge alpine:3.20 --dry-run --storage ./storage',
    run: purgeCommand,
  },
  warm: {
    usage: WARM_USAGE,
    example: 'npx pullthrough warm alpine:3.20 ghcr.io/org/app:1.0 --platform linux/amd64,linux/arm64 --storage ./storage',
    run: warmCommand,
  },
};

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...CONFIG_OPTIONS, listen: { type: 'string' }, 'debug-listen': { type: 'string' } },
  });
  const { config, file, environment } = configFromFlags(values);
  const log = createLogger(config.log.level);
  logProcessWarnings(log);
  const running = await startServer(config, log);
  log.info(
    {
      version: VERSION,
      listen: config.listen,
      url: running.url,
      ...(running.debugUrl ? { debugUrl: running.debugUrl } : {}),
      tls: config.tls !== undefined,
      storage: describeStorage(config.storage),
      cache: running.mirror.limitsDescription,
      upstreams: config.upstreams.map((u) => `${u.name}=${u.url}`),
      config: file ?? null,
      // Which variable set which key (never their values: one may be a password).
      environment,
    },
    'pullthrough listening',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function help(command: Command): string {
  return `${command.usage}\n\nexample:\n  ${command.example}`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is not "serve": an open server on every address is no default to fall into.
    console.error(USAGE);
    process.exit(2);
  }
  if (name === '--version') {
    console.log(VERSION);
    return;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const command = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    console.log(command ? help(command) : USAGE);
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(help(command));
    return;
  }
  return command.run(rest);
}

// Config errors, bad flags and failed starts alike: one line with the message, never a stack.
main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`pullthrough: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

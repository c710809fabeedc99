#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { checkCommand } from './check.js';
import { clientConfigCommand } from './client-config/command.js';
import { CONFIG_OPTIONS, configFromFlags } from './command-config.js';
import { gcCommand } from './gc/command.js';
import { warmCommand } from './warm/command.js';
import { createLogger } from './observability/logger.js';
import { describeStorage } from './storage/open.js';
import { startServer } from './server.js';
import { VERSION } from './version.js';

const USAGE = `pullthrough ${VERSION}: a pull-through mirror for Docker Hub and other OCI registries

usage: pullthrough serve [--config FILE] [--listen HOST:PORT] [--debug-listen HOST:PORT] [--storage DIR] [--upstream URL] [--log-level LEVEL]
       pullthrough check [--config FILE] [--storage DIR] [--upstream URL] [--json] [--strict]
       pullthrough client-config docker|podman|containerd|microk8s|k3s|kind --mirror URL [--upstream NAME]… [--insecure]
       pullthrough gc [--dry-run] [--grace 1h] [--config FILE] [--storage DIR]
       pullthrough warm IMAGE… [--from FILE] [--platform linux/amd64,…|--all-platforms] [--concurrency N]

  --config FILE        YAML config (default: config/default.yaml)
  --listen HOST:PORT   address to listen on (default [::]:5000, IPv4 and IPv6)
  --debug-listen HOST:PORT  also serve /metrics, /healthz and /readyz (only) here, e.g. 127.0.0.1:9090
  --storage DIR        cache on the filesystem in DIR (default ./storage)
  --upstream URL       registry to mirror (default https://registry-1.docker.io)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default info)

environment: PULLTHROUGH_LISTEN, PULLTHROUGH_DEBUG_LISTEN, PULLTHROUGH_STORAGE, PULLTHROUGH_UPSTREAM, PULLTHROUGH_LOG_LEVEL,
and registry:2's REGISTRY_PROXY_REMOTEURL, REGISTRY_PROXY_USERNAME, REGISTRY_PROXY_PASSWORD.`;

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...CONFIG_OPTIONS, listen: { type: 'string' }, 'debug-listen': { type: 'string' } },
  });
  const config = configFromFlags(values);
  const log = createLogger(config.log.level);
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

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'client-config':
      return clientConfigCommand(rest);
    case 'check':
      return process.exit(await checkCommand(rest));
    case 'gc':
      return gcCommand(rest);
    case 'warm':
      return warmCommand(rest);
    case '--version':
      console.log(VERSION);
      return;
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return;
    default:
      // `pullthrough --listen …` with no command means serve.
      if (command.startsWith('--')) return serve(argv);
      console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      process.exit(2);
  }
}

// Config errors, bad flags and failed starts alike: one line with the message, never a stack.
main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`pullthrough: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { MirrorCache } from '../cache/mirror.js';
import { CONFIG_OPTIONS, configFromFlags, formatBytes } from '../command-config.js';
import { RegistryError } from '../oci/errors.js';
import { validateName } from '../oci/reference.js';
import { openStorage } from '../storage/open.js';
import { UpstreamRouter } from '../upstream/routing.js';
import { parseImageRef } from './image-ref.js';
import { hostPlatform, parsePlatform } from '../oci/platforms.js';
import { createProgress } from './progress.js';
import { warmImages } from './warm.js';

export const WARM_USAGE = `usage: pullthrough warm IMAGE… [--from FILE] [--platform linux/amd64,…|--all-platforms] [--concurrency N]
                        [--config FILE] [--storage DIR] [--upstream URL]

Fetches each image's manifests and blobs into the configured storage, through the same code the
server runs (the server may be running). IMAGE is e.g. alpine:3.20, ghcr.io/org/app@sha256:….
--from reads more images from FILE, one per line (# comments). Default platform: this machine's.`;

export async function warmCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONFIG_OPTIONS,
      from: { type: 'string' },
      platform: { type: 'string' },
      'all-platforms': { type: 'boolean', default: false },
      concurrency: { type: 'string', default: '4' },
    },
  });
  const listed = values.from
    ? readFileSync(values.from, 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
    : [];
  const refs = [...positionals, ...listed].filter(Boolean).map(parseImage);
  if (refs.length === 0) throw new Error(`no images given\n\n${WARM_USAGE}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency must be a positive integer');
  const platforms = values['all-platforms'] ? undefined : values.platform ? values.platform.split(',').map(parsePlatform) : [hostPlatform()];

  const { config } = configFromFlags(values);
  const log = pino({ level: 'warn' }, process.stderr);
  const router = new UpstreamRouter(config.upstreams);
  const mirror = await MirrorCache.open(await openStorage(config.storage, { mode: 'warm' }), router, log, config.cache);
  const progress = createProgress(process.stdout);
  const started = performance.now();
  const results = await warmImages(mirror, refs, { platforms, concurrency }, progress).finally(() => progress.stop());
  await mirror.close();
  await router.close();

  const failed = results.filter((r) => r.error);
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`warmed ${results.length - failed.length}/${results.length} images, ${formatBytes(bytes)} in ${seconds}s`);
  for (const r of failed) console.error(`failed: ${r.image}: ${r.error!.message}`);
  if (failed.length > 0) process.exitCode = 1;
}

/** An image reference, its name checked as the server checks it: what the server refuses, warm refuses before asking upstream. */
function parseImage(text: string) {
  try {
    const ref = parseImageRef(text);
    validateName(ref.name);
    return ref;
  } catch (err) {
    if (err instanceof RegistryError) throw new Error(`${text}: ${err.code}: ${err.message} (the server answers the same)`, { cause: err });
    throw err;
  }
}

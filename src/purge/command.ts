import { parseArgs } from 'node:util';
import { CONFIG_OPTIONS, configFromFlags, formatBytes } from '../command-config.js';
import { openStorage } from '../storage/open.js';
import { UpstreamRouter } from '../upstream/routing.js';
import { parseImageRef } from '../warm/image-ref.js';
import { purge } from './purge.js';

export const PURGE_USAGE = `usage: pullthrough purge IMAGE… [--dry-run] [--config FILE] [--storage DIR]

Removes cached images or tags (alpine:3.20, ghcr.io/org/app@sha256:…): the tag, the image's links
when no other tag of the repository names it, and its blobs no other cached image uses. Safe while
servers run, as gc is; a running server may answer the tag from memory for up to 30 s more.`;

export async function purgeCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONFIG_OPTIONS, 'dry-run': { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) throw new Error('name at least one image, e.g. pullthrough purge alpine:3.20');
  const { config } = configFromFlags(values);
  const router = new UpstreamRouter(config.upstreams);
  try {
    const targets = positionals.map((text) => {
      const ref = parseImageRef(text);
      const route = router.route(ref.name, ref.host);
      return { upstream: route.upstream.name, name: route.name, reference: ref.reference };
    });
    const storage = await openStorage(config.storage, { mode: 'inspect' });
    const dryRun = values['dry-run'];
    const report = await purge(storage, targets, { dryRun });
    const verb = dryRun ? 'would remove' : 'removed';
    for (const link of report.unlinked) console.log(`${verb} ${link}`);
    for (const blob of report.sweep.removed) console.log(`${verb} ${blob.digest} ${formatBytes(blob.size)}`);
    console.log(
      `${verb} ${report.unlinked.length} tags/links and ${report.sweep.removed.length} blobs (${formatBytes(report.sweep.freedBytes)}); blobs other cached images use stay`,
    );
  } finally {
    await router.close();
  }
}

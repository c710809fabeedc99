import { parseArgs } from 'node:util';
import { collectGarbage } from '../cache/gc.js';
import { CONFIG_OPTIONS, configFromFlags, formatBytes } from '../command-config.js';
import { openStorage } from '../storage/open.js';
import { durationSchema } from '../units.js';

/** Temps (crashed writers, incomplete S3 multipart uploads) older than this are removed. */
const STALE_TEMP_MS = 24 * 3_600_000;

export const GC_USAGE = `usage: pullthrough gc [--dry-run] [--grace 1h] [--config FILE] [--storage DIR]

Removes blobs that no cached manifest references (index → child manifests → config + layers),
links and tags whose manifest is gone, and temps older than a day (incomplete S3 multipart
uploads included). Reads manifests only, never layers. Safe while servers run: it puts a marker in
storage, servers then journal the manifests they store, and the sweep keeps what those reach;
unreferenced blobs younger than --grace (pulled by digest alone) are kept too.`;

export async function gcCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...CONFIG_OPTIONS, 'dry-run': { type: 'boolean', default: false }, grace: { type: 'string', default: '1h' } },
  });
  const grace = durationSchema.safeParse(values.grace);
  if (!grace.success) throw new Error(`--grace: ${grace.error.issues[0]!.message}`);
  const graceMs = grace.data;
  const storage = await openStorage(configFromFlags(values).config.storage, { mode: 'inspect' });
  const dryRun = values['dry-run'];
  const report = await collectGarbage(storage, { dryRun, graceMs });
  const temps = await storage.sweepTemps(new Date(Date.now() - STALE_TEMP_MS), { dryRun });
  const verb = dryRun ? 'would remove' : 'removed';
  for (const blob of report.removed) console.log(`${verb} ${blob.digest} ${formatBytes(blob.size)}`);
  console.log(
    `${report.repositories} repositories, ${report.manifests} manifests, ${report.referenced} blobs referenced; ` +
      `${verb} ${report.removed.length} blobs (${formatBytes(report.freedBytes)}), ${report.danglingRemoved} dangling links/tags, ` +
      `${temps} stale temps; kept ${report.keptYoung} unreferenced blobs younger than ${values.grace} ` +
      `and ${report.keptLive} reached by manifests stored during the gc`,
  );
}

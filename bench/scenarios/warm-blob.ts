import { blobUrl } from '../lib/fixture.js';
import { mib } from '../lib/format.js';
import { download, type DownloadResult } from '../lib/load.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

const TIMEOUT_MS = 120_000;

/**
 * Aggregate MB/s of 1 and 8 concurrent curl clients each downloading the
 * whole cached big blob, from each mirror and from nginx serving the same
 * file (the ceiling: sendfile straight from the page cache).
 */
export const warmBlob: Scenario = {
  number: 3,
  id: 'warm-blob',
  title: 'warm blob download',
  budgetMs: (c) => c.runs * 3 * c.blobClients.length * 60_000,
  async run({ fx, log, rss }: ScenarioContext): Promise<ScenarioOutput> {
    const { config, big } = fx;
    const urls = {
      pullthrough: blobUrl(fx.warm.pullthrough.url, big),
      distribution: blobUrl(fx.warm.distribution.url, big),
      nginx: `${fx.nginx.url}/${big.layoutPath}`,
    };
    rss?.watch('pullthrough', fx.warm.pullthrough.pid);
    rss?.watch('distribution', fx.warm.distribution.pid);
    const rows: Row[] = [];
    const raw: Record<string, DownloadResult[]> = {};
    try {
      for (const clients of config.blobClients) {
        const rates = new Samples();
        for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
          for (const [subject, url] of Object.entries(urls)) {
            const result = await download(url, clients, big.size, TIMEOUT_MS);
            rates.add(subject, result.mbps);
            (raw[`${subject} ×${clients}`] ??= []).push(result);
            log(`${subject}, ${clients} client(s), run ${runIndex}: ${Math.round(result.mbps)} MB/s`);
          }
        }
        const row = (reference: string, subject: string, target?: Row['target']): Row => ({
          metric: `${mib(big.size)} blob, ${clients} client${clients > 1 ? 's' : ''}`,
          unit: 'MB/s',
          better: 'higher',
          pullthrough: rates.spread('pullthrough'),
          reference,
          referenceValue: rates.spread(subject),
          target,
        });
        rows.push(
          row('nginx (static file)', 'nginx', { on: 'ratio', op: '>=', value: 0.9 }),
          row('distribution proxy', 'distribution', { on: 'ratio', op: '>=', value: 1.0 }),
        );
      }
    } finally {
      rss?.unwatch(fx.warm.pullthrough.pid);
      rss?.unwatch(fx.warm.distribution.pid);
    }
    return { rows, notes: [], raw };
  },
};

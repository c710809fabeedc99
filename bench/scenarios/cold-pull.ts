import { blobUrl } from '../lib/fixture.js';
import { mib } from '../lib/format.js';
import { scoped } from '../lib/lifetime.js';
import { download } from '../lib/load.js';
import { Mirror, MIRROR_KINDS } from '../lib/mirrors.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

const TIMEOUT_MS = 120_000;

/**
 * Seconds for one client to pull the big blob through a mirror with empty
 * storage (a fresh instance per run: the upstream fetch, the write to disk and
 * the digest check are in the client's wait; the commit follows it), against
 * the same GET straight from the upstream.
 */
export const coldPull: Scenario = {
  number: 4,
  id: 'cold-pull',
  title: 'cold blob pull',
  budgetMs: (c) => c.runs * 3 * 60_000,
  async run({ fx, log, rss }: ScenarioContext): Promise<ScenarioOutput> {
    const { config, big, upstream } = fx;
    const times = new Samples();
    for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
      const direct = await download(blobUrl(upstream.url, big), 1, big.size, TIMEOUT_MS);
      times.add('direct', direct.seconds);
      log(`direct from upstream, run ${runIndex}: ${direct.seconds.toFixed(2)} s`);
      for (const kind of MIRROR_KINDS) {
        await scoped(
          () => Mirror.start(kind, upstream.url, config),
          async (mirror) => {
            rss?.watch(kind, mirror.pid, true);
            const result = await download(blobUrl(mirror.url, big), 1, big.size, TIMEOUT_MS);
            rss?.unwatch(mirror.pid);
            times.add(kind, result.seconds);
            log(`${kind} cold, run ${runIndex}: ${result.seconds.toFixed(2)} s`);
          },
        );
      }
    }
    const row = (reference: string, subject: string, target?: Row['target']): Row => ({
      metric: `${mib(big.size)} blob, 1 client, empty cache`,
      unit: 's',
      better: 'lower',
      pullthrough: times.spread('pullthrough'),
      reference,
      referenceValue: times.spread(subject),
      target,
    });
    return {
      rows: [
        row('direct from upstream', 'direct', { on: 'ratio', op: '<=', value: 1.2 }),
        row('distribution proxy (cold)', 'distribution', { on: 'ratio', op: '<=', value: 0.75 }),
      ],
      notes: [],
      raw: Object.fromEntries(['direct', ...MIRROR_KINDS].map((s) => [s, times.spread(s)])),
    };
  },
};

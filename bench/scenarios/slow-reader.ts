import { blobUrl } from '../lib/fixture.js';
import { mib } from '../lib/format.js';
import { scoped } from '../lib/lifetime.js';
import { download, slowClient } from '../lib/load.js';
import { Mirror, MIRROR_KINDS } from '../lib/mirrors.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

const TIMEOUT_MS = 180_000;
const FAST_CLIENTS = 10;
/** 1 MB/s: a client on a poor link, or one that stopped reading for a while. */
const SLOW_RATE = 1_000_000;

/**
 * Does the slowest client set everyone's pace? Ten clients pull one cold blob from a fresh
 * mirror, once alone and once with a 1 MB/s client that asked first. The figure is the ten's
 * time with the slow one ÷ their time without it (1.0: the slow client costs the others nothing).
 */
export const slowReader: Scenario = {
  number: 8,
  id: 'slow-reader',
  title: 'slow reader in a cold herd',
  budgetMs: (c) => c.runs * 4 * 120_000,
  async run({ fx, log }: ScenarioContext): Promise<ScenarioOutput> {
    const { config, herd, upstream } = fx;
    const slowdown = new Samples();
    const withSlow = new Samples();
    for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
      for (const kind of MIRROR_KINDS) {
        const timeTen = (slow: boolean) =>
          scoped(
            () => Mirror.start(kind, upstream.url, config),
            async (mirror) => {
              const url = blobUrl(mirror.url, herd);
              // The slow client is the one that starts the fetch.
              const slowOne = slow ? slowClient(url, SLOW_RATE) : undefined;
              if (slowOne) await new Promise((r) => setTimeout(r, 200));
              try {
                return (await download(url, FAST_CLIENTS, herd.size, TIMEOUT_MS)).seconds;
              } finally {
                await slowOne?.stop();
              }
            },
          );
        const alone = { seconds: await timeTen(false) };
        const beside = { seconds: await timeTen(true) };
        slowdown.add(kind, beside.seconds / alone.seconds);
        withSlow.add(kind, beside.seconds);
        log(`${kind}, run ${runIndex}: ${FAST_CLIENTS} clients ${alone.seconds.toFixed(2)} s alone, ${beside.seconds.toFixed(2)} s beside a 1 MB/s client`);
      }
    }
    const metric = `${FAST_CLIENTS} clients, one ${mib(herd.size)} blob, beside a 1 MB/s client`;
    const rows: Row[] = [
      {
        metric: `time ÷ time without it, ${metric}`,
        unit: '×',
        better: 'lower',
        pullthrough: slowdown.spread('pullthrough'),
        reference: 'distribution proxy',
        referenceValue: slowdown.spread('distribution'),
        target: { on: 'value', op: '<=', value: 1.2 },
      },
      {
        metric: `time until the last of them is done, ${metric}`,
        unit: 's',
        better: 'lower',
        pullthrough: withSlow.spread('pullthrough'),
        reference: 'distribution proxy',
        referenceValue: withSlow.spread('distribution'),
      },
    ];
    return { rows, notes: [], raw: Object.fromEntries(MIRROR_KINDS.map((k) => [k, { slowdown: slowdown.spread(k), seconds: withSlow.spread(k) }])) };
  },
};

import { CountingProxy } from '../lib/counting-proxy.js';
import { blobUrl } from '../lib/fixture.js';
import { mib } from '../lib/format.js';
import { scoped } from '../lib/lifetime.js';
import { download } from '../lib/load.js';
import { Mirror, MIRROR_KINDS } from '../lib/mirrors.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

const TIMEOUT_MS = 180_000;

/**
 * 50 clients at once ask a mirror with empty storage for the same blob. A
 * counting TCP relay between mirror and upstream measures the bytes the
 * upstream sent, as a multiple of the blob's size (1.0 = one fetch, the rest
 * coalesced), and the clock measures when the last client is done, against
 * the same mirror's time for one client alone (a fresh instance, same blob).
 */
export const coldHerd: Scenario = {
  number: 5,
  id: 'cold-herd',
  title: 'cold herd',
  budgetMs: (c) => c.runs * 3 * 150_000,
  async run({ fx, log, rss }: ScenarioContext): Promise<ScenarioOutput> {
    const { config, herd, upstream } = fx;
    const clients = config.herdClients;
    const fetched = new Samples();
    const times = new Samples();
    // One client alone on the same blob, the herd's yardstick.
    const alone = new Samples();
    await scoped(
      () => CountingProxy.start(upstream.port),
      async (relay) => {
        for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
          for (const kind of MIRROR_KINDS) {
            await scoped(
              () => Mirror.start(kind, relay.url, config),
              async (mirror) => {
                relay.reset();
                rss?.watch(kind, mirror.pid, true);
                const result = await download(blobUrl(mirror.url, herd), clients, herd.size, TIMEOUT_MS);
                rss?.unwatch(mirror.pid);
                const multiple = relay.bytesFromUpstream / herd.size;
                fetched.add(kind, multiple);
                times.add(kind, result.seconds);
                log(
                  `${kind}, run ${runIndex}: ${result.seconds.toFixed(2)} s, upstream sent ${multiple.toFixed(2)}× the blob over ${relay.connections} connection(s)`,
                );
              },
            );
            if (kind !== 'pullthrough') continue;
            const single = await scoped(
              () => Mirror.start(kind, relay.url, config),
              async (mirror) => (await download(blobUrl(mirror.url, herd), 1, herd.size, TIMEOUT_MS)).seconds,
            );
            alone.add(kind, single);
            log(`${kind}, run ${runIndex}: one client alone ${single.toFixed(2)} s`);
          }
        }
      },
    );
    const metric = `${clients} clients, one ${mib(herd.size)} blob`;
    const rows: Row[] = [
      {
        metric: `upstream bytes ÷ blob size, ${metric}`,
        unit: '×',
        better: 'lower',
        pullthrough: fetched.spread('pullthrough'),
        reference: 'distribution proxy',
        referenceValue: fetched.spread('distribution'),
        target: { on: 'value', op: '==', value: 1 },
      },
      {
        metric: `time until the last client is done, ${metric}`,
        unit: 's',
        better: 'lower',
        pullthrough: times.spread('pullthrough'),
        reference: 'distribution proxy',
        referenceValue: times.spread('distribution'),
      },
      {
        metric: `time until the last client is done, ${metric}`,
        unit: 's',
        better: 'lower',
        pullthrough: times.spread('pullthrough'),
        reference: 'pullthrough, 1 client alone, same blob',
        referenceValue: alone.spread('pullthrough'),
        target: { on: 'ratio', op: '<=', value: 1.5 },
      },
    ];
    const raw = Object.fromEntries(MIRROR_KINDS.map((k) => [k, { upstreamMultiple: fetched.spread(k), seconds: times.spread(k) }]));
    return { rows, notes: [], raw };
  },
};

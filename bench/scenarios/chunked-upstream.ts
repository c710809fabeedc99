import { blobUrl } from '../lib/fixture.js';
import { mib } from '../lib/format.js';
import { adopt, scoped } from '../lib/lifetime.js';
import { download } from '../lib/load.js';
import { Mirror } from '../lib/mirrors.js';
import { NginxChunkingRelay } from '../lib/nginx.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

const TIMEOUT_MS = 180_000;
const HERD_CLIENTS = 10;

/**
 * An upstream that sends blobs without Content-Length (chunked), as Nexus- and Artifactory-style
 * registries can: nginx relays the upstream registry that way. One cold client, then a cold herd
 * of ten, each on a fresh mirror, against the same downloads straight through the relay; every
 * answer is checked for 200 and the full size. The distribution proxy is tried once: what it
 * answers goes to the notes.
 */
export const chunkedUpstream: Scenario = {
  number: 9,
  id: 'chunked-upstream',
  title: 'chunked upstream',
  budgetMs: (c) => c.runs * 4 * 120_000,
  async run({ fx, log }: ScenarioContext): Promise<ScenarioOutput> {
    const { config, herd, upstream } = fx;
    const relay = adopt(await NginxChunkingRelay.create(upstream.url));
    const times = new Samples();
    for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
      for (const clients of [1, HERD_CLIENTS]) {
        const direct = await download(blobUrl(relay.url, herd), clients, herd.size, TIMEOUT_MS);
        times.add(`direct ×${clients}`, direct.seconds);
        const seconds = await scoped(
          () => Mirror.start('pullthrough', relay.url, config),
          async (mirror) => (await download(blobUrl(mirror.url, herd), clients, herd.size, TIMEOUT_MS)).seconds,
        );
        times.add(`pullthrough ×${clients}`, seconds);
        log(`${clients} client(s), run ${runIndex}: pullthrough ${seconds.toFixed(2)} s, direct ${direct.seconds.toFixed(2)} s`);
      }
    }
    const distribution = await scoped(
      () => Mirror.start('distribution', relay.url, config),
      (mirror) =>
        download(blobUrl(mirror.url, herd), 1, herd.size, TIMEOUT_MS).then(
          (d) => `${d.seconds.toFixed(2)} s`,
          (err: unknown) => (err as Error).message.split('\n').slice(-1)[0]!.trim(),
        ),
    );
    log(`distribution proxy: ${distribution}`);
    const row = (clients: number): Row => ({
      metric: `${mib(herd.size)} blob sent chunked, ${clients} client${clients > 1 ? 's' : ''} at once, empty cache`,
      unit: 's',
      better: 'lower',
      pullthrough: times.spread(`pullthrough ×${clients}`),
      reference: 'direct through the relay',
      referenceValue: times.spread(`direct ×${clients}`),
    });
    return {
      rows: [row(1), row(HERD_CLIENTS)],
      notes: [`the distribution proxy through the same relay, 1 client: ${distribution}`],
      raw: Object.fromEntries([1, HERD_CLIENTS].flatMap((c) => [`pullthrough ×${c}`, `direct ×${c}`].map((k) => [k, times.spread(k)]))),
    };
  },
};

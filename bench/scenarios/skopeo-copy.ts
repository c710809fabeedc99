import { join } from 'node:path';
import { skopeoCopy } from '../../test/e2e/harness/skopeo.js';
import { removeDir } from '../../test/e2e/harness/tmp.js';
import type { Fixture } from '../lib/fixture.js';
import { scoped } from '../lib/lifetime.js';
import { Mirror, MIRROR_KINDS } from '../lib/mirrors.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

/**
 * Wall time of `skopeo copy docker://<host>/<image> oci:<dir>` for the
 * multi-layer image: straight from the upstream, and through each mirror
 * twice, cold (a fresh instance) then warm (the same instance again). Each
 * copy goes to a new directory, so skopeo cannot skip blobs it already has.
 */
export const skopeoCopyScenario: Scenario = {
  number: 7,
  id: 'skopeo-copy',
  title: 'skopeo copy',
  budgetMs: (c) => c.runs * 5 * 60_000,
  async run({ fx, log }: ScenarioContext): Promise<ScenarioOutput> {
    const { config, upstream } = fx;
    const times = new Samples();
    for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
      times.add('direct', await timedCopy(fx, upstream.host, `direct-${runIndex}`));
      for (const kind of MIRROR_KINDS) {
        await scoped(
          () => Mirror.start(kind, upstream.url, config),
          async (mirror) => {
            for (const phase of ['cold', 'warm']) {
              const seconds = await timedCopy(fx, mirror.host, `${kind}-${phase}-${runIndex}`);
              times.add(`${kind} ${phase}`, seconds);
              log(`${kind} ${phase}, run ${runIndex}: ${seconds.toFixed(2)} s`);
            }
          },
        );
      }
    }
    const row = (phase: string, reference: string, subject: string, target?: Row['target']): Row => ({
      metric: `multi-layer image, ${phase}`,
      unit: 's',
      better: 'lower',
      pullthrough: times.spread(`pullthrough ${phase}`),
      reference,
      referenceValue: times.spread(subject),
      target,
    });
    // Faster than the distribution proxy, cold and warm.
    const faster = { on: 'ratio', op: '<=', value: 1 } as const;
    const rows = [
      row('cold', 'distribution proxy (cold)', 'distribution cold', faster),
      row('warm', 'distribution proxy (warm)', 'distribution warm', faster),
      row('cold', 'direct from upstream', 'direct'),
      row('warm', 'direct from upstream', 'direct'),
    ];
    const subjects = ['direct', ...MIRROR_KINDS.flatMap((k) => [`${k} cold`, `${k} warm`])];
    return { rows, notes: [], raw: Object.fromEntries(subjects.map((s) => [s, times.spread(s)])) };
  },
};

/** Seconds for one copy into a fresh OCI layout, removed afterwards (it holds the whole image). */
async function timedCopy(fx: Fixture, host: string, label: string): Promise<number> {
  const dest = join(fx.work, `copy-${label}`);
  const started = performance.now();
  try {
    await skopeoCopy(`docker://${host}/${fx.multi.repository}:${fx.multi.tag}`, `oci:${dest}:${fx.multi.tag}`);
    return (performance.now() - started) / 1000;
  } finally {
    await removeDir(dest);
  }
}

// `npm run bench`: pullthrough against distribution's proxy mode, the plain
// upstream registry and nginx, on loopback; see bench/README.md.
import { join } from 'node:path';
import { REPO_ROOT } from '../test/e2e/harness/pullthrough.js';
import { loadBenchConfig } from './lib/config.js';
import { setUpFixture } from './lib/fixture.js';
import { DeadlineError, disposeAll, disposeOnSignals, withDeadline } from './lib/lifetime.js';
import { describeMachine } from './lib/machine.js';
import { logProblems } from './lib/mirrors.js';
import { renderMarkdown, writeReport, type Report } from './lib/report.js';
import type { ScenarioResult } from './lib/result.js';
import { PeakRss } from './lib/rss.js';
import type { Scenario } from './lib/scenario.js';
import { chunkedUpstream } from './scenarios/chunked-upstream.js';
import { coldHerd } from './scenarios/cold-herd.js';
import { coldPull } from './scenarios/cold-pull.js';
import { digestManifestRate, tagManifestRate } from './scenarios/manifest-rate.js';
import { peakRssOutput } from './scenarios/peak-rss.js';
import { skopeoCopyScenario } from './scenarios/skopeo-copy.js';
import { slowReader } from './scenarios/slow-reader.js';
import { warmBlob } from './scenarios/warm-blob.js';

/** In table order; peak RSS (6) is not run but read off 3–5. */
const SCENARIOS: readonly Scenario[] = [tagManifestRate, digestManifestRate, warmBlob, coldPull, coldHerd, skopeoCopyScenario, slowReader, chunkedUpstream];
const RSS_SCENARIOS: readonly Scenario[] = [warmBlob, coldPull, coldHerd];
const SETUP_BUDGET_MS = 240_000;

const startedAt = performance.now();
function log(line: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${seconds} s] ${line}\n`);
}

async function main(): Promise<number> {
  disposeOnSignals();
  const config = loadBenchConfig();
  const date = new Date().toISOString().slice(0, 10);
  const machine = await describeMachine();
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  try {
    const fx = await withDeadline('setup', SETUP_BUDGET_MS, () => setUpFixture(config, (l) => log(`setup: ${l}`)));
    const rssByScenario = new Map<string, Map<string, number>>();
    for (const scenario of SCENARIOS.filter((s) => !config.only || config.only.includes(s.id))) {
      const rss = RSS_SCENARIOS.includes(scenario) ? new PeakRss() : undefined;
      log(`${scenario.title}: starting`);
      try {
        const ctx = { fx, log: (l: string) => log(`${scenario.title}: ${l}`), rss };
        const output = await withDeadline(scenario.title, scenario.budgetMs(config), () => scenario.run(ctx));
        results.push({ number: scenario.number, id: scenario.id, title: scenario.title, ...output });
      } catch (err) {
        failures.push(`${scenario.title}: ${(err as Error).message}`);
        log(`${scenario.title}: FAILED: ${(err as Error).message}`);
        // A scenario past its deadline may still be running; measuring anything beside it would be wrong.
        if (err instanceof DeadlineError) break;
      } finally {
        if (rss) rssByScenario.set(scenario.title, rss.stop());
      }
    }
    if (rssByScenario.size > 0) results.push({ number: 6, id: 'peak-rss', title: 'peak RSS', ...peakRssOutput(rssByScenario) });
    results.sort((a, b) => a.number - b.number);
  } catch (err) {
    failures.push(`setup: ${(err as Error).message}`);
  } finally {
    log('stopping servers and removing temp dirs');
    await disposeAll();
  }

  const { cpuProfDir: _unused, only: _all, ...shownConfig } = config;
  const report: Report = {
    date,
    machine,
    config: shownConfig,
    wallSeconds: (performance.now() - startedAt) / 1000,
    scenarios: results,
    failures,
    logProblems: [...logProblems].flatMap(([kind, counts]) => [...counts].map(([message, n]) => `${kind}: ${n}× ${message}`)),
  };
  const written = await writeReport(join(REPO_ROOT, 'bench', 'results'), report);
  process.stdout.write(`\n${renderMarkdown(report)}\nwrote ${written.markdown} and ${written.json}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    console.error(`bench: ${(err as Error).stack ?? String(err)}`);
    await disposeAll();
    process.exit(1);
  },
);

import { AccessLog, type RequestCount } from '../lib/access-log.js';
import { manifestUrl } from '../lib/fixture.js';
import { LOAD_USER_AGENT, requestRate, type RateResult } from '../lib/load.js';
import type { Row, ScenarioOutput } from '../lib/result.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { Samples } from '../lib/stats.js';

const SUBJECTS = ['pullthrough', 'distribution', 'upstream'] as const;
type Subject = (typeof SUBJECTS)[number];

/**
 * Requests/s for one cached manifest under 50 keep-alive connections, each
 * subject in turn, run after run. The upstream's access log tells how many
 * calls each mirror made to it while it was measured.
 */
function manifestRateScenario(number: number, id: string, title: string, byTag: boolean): Scenario {
  return {
    number,
    id,
    title,
    budgetMs: (c) => c.runs * SUBJECTS.length * (c.durationS + 5) * 1000 + 30_000,
    async run({ fx, log }: ScenarioContext): Promise<ScenarioOutput> {
      const { config, multi } = fx;
      const reference = byTag ? multi.tag : multi.manifestDigest;
      const urls: Record<Subject, string> = {
        pullthrough: manifestUrl(fx.warm.pullthrough.url, multi, reference),
        distribution: manifestUrl(fx.warm.distribution.url, multi, reference),
        upstream: manifestUrl(fx.upstream.url, multi, reference),
      };
      const upstreamLog = new AccessLog(fx.upstream.logFile);
      const manifestPath = new RegExp(`^/v2/${multi.repository}/manifests/`);
      const rates = new Samples();
      const raw: Record<string, (RateResult & { upstreamRequests?: RequestCount })[]> = {};
      const notes: string[] = [];

      for (let runIndex = 1; runIndex <= config.runs; runIndex++) {
        for (const subject of SUBJECTS) {
          const mark = await upstreamLog.mark();
          const result = await requestRate(urls[subject], config.connections, config.durationS);
          // Measuring the upstream itself fills its log with the load's own requests: nothing to count.
          const upstreamRequests = subject === 'upstream' ? undefined : await upstreamLog.countSince(mark, manifestPath, LOAD_USER_AGENT);
          rates.add(subject, result.rps);
          (raw[subject] ??= []).push({ ...result, upstreamRequests });
          log(
            `${subject} run ${runIndex}: ${Math.round(result.rps)} req/s, p99 ${result.latencyP99Ms} ms` +
              (upstreamRequests ? `, upstream manifest requests ${upstreamRequests.total}` : ''),
          );
          if (result.non2xx + result.errors + result.timeouts > 0) {
            notes.push(`${subject} run ${runIndex}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
          }
        }
      }

      for (const mirror of ['pullthrough', 'distribution'] as const) {
        const runs = raw[mirror]!;
        const served = runs.reduce((sum, r) => sum + r.ok, 0);
        const counts = runs.map((r) => r.upstreamRequests!);
        const calls = counts.reduce((sum, c) => sum + c.total, 0);
        const kinds = Object.entries(mergeCounts(counts)).map(([k, n]) => `${n}× ${k}`);
        notes.push(
          `${mirror}: ${calls} upstream manifest requests for ${served} served` +
            (calls > 0
              ? ` (${(calls / served).toFixed(2)} per request served: ${kinds.join(', ')}; requests in flight as a run ends reach the upstream but are not counted as served)`
              : ' (served from cache alone)'),
        );
      }

      const row = (ref: Subject, target?: Row['target']): Row => ({
        metric: `req/s, ${config.connections} connections`,
        unit: 'req/s',
        better: 'higher',
        pullthrough: rates.spread('pullthrough'),
        reference: ref === 'distribution' ? 'distribution proxy' : 'upstream registry',
        referenceValue: rates.spread(ref),
        target,
      });
      const rows = [row('distribution', byTag ? { on: 'ratio', op: '>=', value: 10 } : undefined), row('upstream')];
      return { rows, notes, raw };
    },
  };
}

function mergeCounts(counts: RequestCount[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const count of counts) {
    for (const [key, n] of Object.entries(count.byMethodStatus)) merged[key] = (merged[key] ?? 0) + n;
  }
  return merged;
}

export const tagManifestRate = manifestRateScenario(1, 'tag-manifest-rate', 'cached manifest by tag', true);
export const digestManifestRate = manifestRateScenario(2, 'digest-manifest-rate', 'cached manifest by digest', false);

import { num } from '../lib/format.js';
import type { ScenarioOutput } from '../lib/result.js';
import { spread } from '../lib/stats.js';

const MB = 1e6;
const LABELS = ['pullthrough', 'distribution'] as const;

/**
 * Not a run of its own: the peak resident memory each mirror reached in each
 * of scenarios 3–5 (VmRSS sampled every 20 ms, plus the lifetime VmHWM of
 * per-run instances), the row showing the peak over all of them.
 */
export function peakRssOutput(byScenario: Map<string, Map<string, number>>): ScenarioOutput {
  const peakMb = (label: string) => Math.max(...[...byScenario.values()].map((peaks) => peaks.get(label) ?? 0)) / MB;
  const notes = [...byScenario].map(
    ([scenario, peaks]) => `${scenario}: ${LABELS.map((label) => `${label} ${num((peaks.get(label) ?? 0) / MB)} MB`).join(', ')}`,
  );
  return {
    rows: [
      {
        metric: `max over ${[...byScenario.keys()].join(', ')}`,
        unit: 'MB',
        better: 'lower',
        pullthrough: spread([peakMb('pullthrough')]),
        reference: 'distribution proxy',
        referenceValue: spread([peakMb('distribution')]),
        target: { on: 'value', op: '<=', value: 150 },
      },
    ],
    notes,
    raw: Object.fromEntries([...byScenario].map(([scenario, peaks]) => [scenario, Object.fromEntries(peaks)])),
  };
}

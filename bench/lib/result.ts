import type { Spread } from './stats.js';

/** A goal from the issue, checked against the row's ratio or pullthrough's own value. */
export interface Target {
  on: 'ratio' | 'value';
  op: '>=' | '<=' | '==';
  value: number;
}

/** One line of the table: pullthrough against one reference, same metric, same run. */
export interface Row {
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  pullthrough: Spread;
  reference: string;
  referenceValue: Spread;
  target?: Target;
}

/** What a scenario measured. */
export interface ScenarioOutput {
  rows: Row[];
  /** What the numbers do not say: upstream calls made, errors seen, behaviour observed. */
  notes: string[];
  /** Everything measured, per subject, for the JSON file. */
  raw: Record<string, unknown>;
}

/** A scenario's output with its place in the table: `number` is the numbering (1–7). */
export interface ScenarioResult extends ScenarioOutput {
  number: number;
  id: string;
  title: string;
}

export function ratio(row: Row): number {
  return row.pullthrough.median / row.referenceValue.median;
}

/** Whether the target is met; undefined when the row has none. */
export function targetMet(row: Row): boolean | undefined {
  if (!row.target) return undefined;
  const actual = row.target.on === 'ratio' ? ratio(row) : row.pullthrough.median;
  const { op, value } = row.target;
  // "== 1.0×" for upstream bytes: allow a few kB of headers and retries' noise.
  if (op === '==') return Math.abs(actual - value) <= value * 0.01;
  return op === '>=' ? actual >= value : actual <= value;
}

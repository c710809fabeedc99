import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import { num } from './format.js';
import type { Machine } from './machine.js';
import { ratio, targetMet, type Row, type ScenarioResult } from './result.js';
import type { Spread } from './stats.js';

export interface Report {
  date: string;
  machine: Machine;
  config: Omit<BenchConfig, 'cpuProfDir' | 'only'>;
  wallSeconds: number;
  scenarios: ScenarioResult[];
  /** Scenarios that failed or ran out of time, with the error text. */
  failures: string[];
  /** Warnings and errors the mirrors logged, per mirror: what went wrong under load without failing a client. */
  logProblems: string[];
}

function value(s: Spread, unit: string): string {
  const range = s.samples.length > 1 ? ` (${num(s.min)}–${num(s.max)})` : '';
  return `${num(s.median)}${range} ${unit}`;
}

function target(row: Row): string {
  if (!row.target) return '';
  const { on, op, value: v } = row.target;
  const shown = `${op === '==' ? '=' : op === '>=' ? '≥' : '≤'} ${v}${on === 'ratio' ? '×' : ` ${row.unit}`}${on === 'value' ? ' (pullthrough)' : ''}`;
  return `${shown} ${targetMet(row) ? '✓' : '✗'}`;
}

function machineLine(m: Machine): string {
  const packages = Object.entries(m.packages)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM; ${m.os}, Linux ${m.kernel}; Node ${m.node}; ${packages}; load average at start ${m.loadAverage.join(' ')}`;
}

/** Multi-line items as list entries, continuation lines indented and quoted as code. */
function bullets(items: readonly string[]): string[] {
  return items.map((item) => {
    const [first, ...rest] = item.split('\n');
    return rest.length === 0 ? `- ${first}` : `- ${first}\n\n  \`\`\`\n${rest.map((l) => `  ${l}`).join('\n')}\n  \`\`\``;
  });
}

export function renderMarkdown(report: Report): string {
  const { config } = report;
  const lines = [
    `# pullthrough benchmark, ${report.date}`,
    '',
    `Machine: ${machineLine(report.machine)}.`,
    '',
    `${config.runs} runs per measurement: median (min–max). Request rates: ${config.durationS} s per run at ${config.connections} connections (autocannon). ` +
      `Downloads: curl to /dev/null. Everything on 127.0.0.1. Ratio = pullthrough ÷ reference (↑ higher is better, ↓ lower is better). ` +
      `Total wall time ${Math.round(report.wallSeconds)} s.`,
    '',
    '| # | scenario | metric | pullthrough | reference | reference value | ratio | target |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const scenario of report.scenarios) {
    for (const row of scenario.rows) {
      const arrow = row.better === 'higher' ? '↑' : '↓';
      lines.push(
        `| ${scenario.number} | ${scenario.title} | ${row.metric} | ${value(row.pullthrough, row.unit)} | ${row.reference} | ` +
          `${value(row.referenceValue, row.unit)} | ${num(ratio(row))}× ${arrow} | ${target(row)} |`,
      );
    }
  }
  const notes = report.scenarios.flatMap((s) => s.notes.map((note) => `- ${s.title}: ${note}`));
  if (notes.length > 0) lines.push('', 'Notes:', '', ...notes);
  if (report.logProblems.length > 0) lines.push('', "Warnings and errors in the mirrors' logs:", '', ...bullets(report.logProblems));
  if (report.failures.length > 0) lines.push('', 'Failures:', '', ...bullets(report.failures));
  return `${lines.join('\n')}\n`;
}

/** bench/results/<date>.json and .md; a second run on the same day replaces the first. */
export async function writeReport(dir: string, report: Report): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${report.date}.json`);
  const markdown = join(dir, `${report.date}.md`);
  const withRatios = {
    ...report,
    scenarios: report.scenarios.map((s) => ({ ...s, rows: s.rows.map((row) => ({ ...row, ratio: ratio(row), targetMet: targetMet(row) })) })),
  };
  await writeFile(json, `${JSON.stringify(withRatios, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(report));
  return { json, markdown };
}

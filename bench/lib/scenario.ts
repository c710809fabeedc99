import type { BenchConfig } from './config.js';
import type { Fixture } from './fixture.js';
import type { ScenarioOutput } from './result.js';
import type { PeakRss } from './rss.js';

export interface ScenarioContext {
  fx: Fixture;
  log: (line: string) => void;
  /** Peak memory of the mirrors, shared by the scenarios it should cover (3–5). */
  rss: PeakRss | undefined;
}

export interface Scenario {
  /** Its number in the issue and the table. */
  number: number;
  id: string;
  title: string;
  /** An upper bound on its wall time: past it the bench stops with what it has. */
  budgetMs(config: BenchConfig): number;
  run(ctx: ScenarioContext): Promise<ScenarioOutput>;
}

import { MiB } from '../../test/e2e/harness/images.js';

/** A positive integer knob from the environment, or the fallback. */
export function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * The knobs, with the values as defaults. The env overrides exist for
 * quick iterations on the bench itself (BENCH_BIG_MIB=50 BENCH_RUNS=1 …);
 * published results use the defaults.
 */
export interface BenchConfig {
  /** Repetitions of every measurement; the table shows their median and min–max. */
  runs: number;
  /** Seconds per request-rate run. */
  durationS: number;
  /** Concurrent connections for request-rate runs. */
  connections: number;
  /** The big layer: random bytes, so gzip cannot shrink it. */
  bigLayerBytes: number;
  /** The blob the cold herd asks for. */
  herdLayerBytes: number;
  herdClients: number;
  /** Concurrent clients for warm blob throughput. */
  blobClients: readonly number[];
  /** If set, pullthrough runs with --cpu-prof and writes its profiles here. */
  cpuProfDir: string | undefined;
  /** Scenario ids to run (BENCH_ONLY=tag-manifest-rate,warm-blob); all when undefined. */
  only: readonly string[] | undefined;
}

export function loadBenchConfig(): BenchConfig {
  return {
    runs: intFromEnv('BENCH_RUNS', 3),
    durationS: intFromEnv('BENCH_DURATION_S', 5),
    connections: intFromEnv('BENCH_CONNECTIONS', 50),
    bigLayerBytes: intFromEnv('BENCH_BIG_MIB', 500) * MiB,
    herdLayerBytes: intFromEnv('BENCH_HERD_MIB', 100) * MiB,
    herdClients: intFromEnv('BENCH_HERD_CLIENTS', 50),
    blobClients: [1, 8],
    cpuProfDir: process.env.BENCH_CPU_PROF_DIR || undefined,
    only: process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((id) => id.trim()) : undefined,
  };
}

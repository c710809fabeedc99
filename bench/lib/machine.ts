import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { run } from '../../test/e2e/harness/run.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  os: string;
  /** 1, 5 and 15 min load averages as the bench started: other work on the machine skews every number. */
  loadAverage: number[];
  /** Versions of the other programs measured, as their packages report them. */
  packages: Record<string, string>;
}

const PACKAGES = ['docker-registry', 'nginx-light', 'skopeo', 'umoci', 'curl'];

export async function describeMachine(): Promise<Machine> {
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    packages[name] = await run('dpkg-query', ['-W', '-f=${Version}', name])
      .then((r) => r.stdout.toString('utf8'))
      .catch(() => 'unknown');
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? 'unknown',
    packages,
  };
}

import { readFileSync } from 'node:fs';

const POLL_MS = 20;

/** VmRSS and VmHWM (lifetime peak) of a process in bytes, or undefined once it is gone. */
export function readRss(pid: number): { rss: number; hwm: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const bytes = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: bytes('VmRSS'), hwm: bytes('VmHWM') };
}

/**
 * Peak resident memory per label (e.g. "pullthrough") while a scenario runs.
 * Sampled VmRSS every 20 ms, so it covers only the window; VmHWM would include
 * whatever the process did before. Processes come and go (the cold scenarios
 * start a fresh mirror per run): watch() each one; a process's last reading
 * is its VmHWM, taken in unwatch() before it stops, since all its life is in the window.
 */
export class PeakRss {
  private readonly peaks = new Map<string, number>();
  private readonly pids = new Map<number, { label: string; wholeLife: boolean }>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), POLL_MS);
  }

  /** wholeLife: the process started inside this window, so its VmHWM counts too. */
  watch(label: string, pid: number | undefined, wholeLife = false): void {
    if (pid === undefined) throw new Error(`${label}: no pid to watch`);
    this.pids.set(pid, { label, wholeLife });
    this.sample();
  }

  unwatch(pid: number | undefined): void {
    if (pid === undefined) return;
    this.sampleOne(pid);
    this.pids.delete(pid);
  }

  /** Stops sampling and returns the peak per label, in bytes. */
  stop(): Map<string, number> {
    this.sample();
    clearInterval(this.timer);
    return this.peaks;
  }

  private sample(): void {
    for (const pid of this.pids.keys()) this.sampleOne(pid);
  }

  private sampleOne(pid: number): void {
    const watched = this.pids.get(pid);
    const reading = readRss(pid);
    if (!watched || !reading) return;
    const value = watched.wholeLife ? Math.max(reading.rss, reading.hwm) : reading.rss;
    this.peaks.set(watched.label, Math.max(this.peaks.get(watched.label) ?? 0, value));
  }
}

import { readFile } from 'node:fs/promises';
import type { LocalServer } from '../../test/e2e/harness/local-server.js';
import { Pullthrough } from '../../test/e2e/harness/pullthrough.js';
import { UpstreamRegistry } from '../../test/e2e/harness/upstream-registry.js';
import type { BenchConfig } from './config.js';

/** The two pull-through mirrors compared: ours, and distribution's `proxy.remoteurl` mode (registry:2, Debian's docker-registry). */
export type MirrorKind = 'pullthrough' | 'distribution';
export const MIRROR_KINDS: readonly MirrorKind[] = ['pullthrough', 'distribution'];

/**
 * Warnings and errors the mirrors logged over every instance the bench ran,
 * counted per mirror and message: misbehaviour under load shows here.
 */
export const logProblems = new Map<MirrorKind, Map<string, number>>();

/** A warning-or-worse line: pino's JSON `"level":40+`, or distribution's logfmt `level=warning|error|…`. */
const PROBLEM: Record<MirrorKind, RegExp> = {
  pullthrough: /"level":(4|5|6)\d\b/,
  distribution: /\blevel=(warning|error|fatal|panic)\b/,
};
/** The message without timestamps and ids, so repeats count as one. */
const MESSAGE = /"msg":"((?:[^"\\]|\\.)*)"|\bmsg="((?:[^"\\]|\\.)*)"/;

/** One mirror instance; dispose() stops it, scans its log into logProblems, and removes its temp dir. */
export class Mirror {
  private constructor(
    readonly kind: MirrorKind,
    private readonly server: LocalServer,
  ) {}

  /** A mirror of `upstreamUrl` with empty storage in a fresh temp dir, started and ready. */
  static async start(kind: MirrorKind, upstreamUrl: string, config: BenchConfig): Promise<Mirror> {
    if (kind === 'distribution') return new Mirror(kind, await UpstreamRegistry.create({ proxyRemoteUrl: upstreamUrl }));
    const nodeArgs = config.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', config.cpuProfDir] : [];
    return new Mirror(kind, await Pullthrough.create({ upstreamUrl, nodeArgs }));
  }

  get label(): string {
    return this.kind;
  }

  get url(): string {
    return this.server.url;
  }

  get host(): string {
    return this.server.host;
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  get logFile(): string {
    return this.server.logFile;
  }

  logTail(chars?: number): Promise<string> {
    return this.server.logTail(chars);
  }

  async dispose(): Promise<void> {
    await this.server.stop();
    await this.scanLog().catch(() => undefined);
    await this.server.dispose();
  }

  private async scanLog(): Promise<void> {
    const lines = (await readFile(this.server.logFile, 'utf8')).split('\n').filter((line) => PROBLEM[this.kind].test(line));
    if (lines.length === 0) return;
    const counts = logProblems.get(this.kind) ?? new Map<string, number>();
    for (const line of lines) {
      const m = MESSAGE.exec(line);
      const message = (m?.[1] ?? m?.[2] ?? line).slice(0, 300);
      counts.set(message, (counts.get(message) ?? 0) + 1);
    }
    logProblems.set(this.kind, counts);
  }
}

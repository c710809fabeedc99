import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../', import.meta.url));
/** The built command, run as users run it. */
export const CLI = join(REPO, 'dist', 'cli.js');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

function stale(): boolean {
  return !existsSync(CLI) || statSync(CLI).mtimeMs < newest(join(REPO, 'src'));
}

/**
 * Builds dist/ when it is missing or older than src/ (CI builds it in `npm ci`). A lock directory
 * keeps two test files from running tsc over each other.
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(tmpdir(), `pullthrough-build-${Buffer.from(REPO).toString('hex').slice(-32)}.lock`);
  for (let waited = 0; stale(); waited += 200) {
    try {
      mkdirSync(lock);
    } catch {
      if (waited > 180_000) throw new Error(`build lock ${lock} held for 3 minutes`);
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      // `npm run build`'s command. Type errors elsewhere in a work tree still emit; only a missing dist/cli.js is fatal.
      spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-b', join(REPO, 'tsconfig.build.json')], { cwd: REPO, stdio: 'ignore' });
      if (!existsSync(CLI)) throw new Error('npm run build produced no dist/cli.js');
      return;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** The environment minus PULLTHROUGH_* and REGISTRY_*, which would override the test's flags. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PULLTHROUGH_') && !k.startsWith('REGISTRY_')));
}

export interface CliOptions {
  /** Where the command runs (default: the repository). */
  cwd?: string;
  /** Variables added to the cleaned environment. */
  env?: NodeJS.ProcessEnv;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pullthrough ARGS…` to completion. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO, env: { ...cleanEnv(), ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** stdout's JSON log lines. */
  lines: Record<string, any>[];
  /** stdout's lines that are not JSON (npm's banner, stray text). */
  text: string[];
  /** Everything written to stderr. */
  stderr: () => string;
  exited: Promise<number | null>;
}

/** A running `pullthrough ARGS…` with its JSON log lines collected as they arrive. */
export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  return collect(spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? REPO, env: { ...cleanEnv(), ...options.env } }));
}

/** `npm start -- ARGS…` in the repository, as a user runs it. */
export function startNpm(args: string[]): RunningCli {
  return collect(spawn('npm', ['start', '--', ...args], { cwd: REPO, env: cleanEnv() }));
}

function collect(child: ChildProcess): RunningCli {
  const lines: Record<string, any>[] = [];
  const text: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      if (!p.trim()) continue;
      try {
        lines.push(JSON.parse(p) as Record<string, any>);
      } catch {
        text.push(p);
      }
    }
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
    process.stderr.write(c);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, text, stderr: () => stderr, exited };
}

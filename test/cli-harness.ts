import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../', import.meta.url));
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
      // Type errors elsewhere in a work tree still emit; only a missing dist/cli.js is fatal.
      spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json')], { cwd: REPO, stdio: 'ignore' });
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

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pullthrough ARGS…` to completion. */
export function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A running `pullthrough ARGS…` with its JSON log lines collected as they arrive. */
export function startCli(args: string[]): { child: ChildProcess; lines: Record<string, any>[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, env: cleanEnv() });
  const lines: Record<string, any>[] = [];
  let partial = '';
  child.stdout!.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, any>);
  });
  child.stderr!.on('data', (c: Buffer) => process.stderr.write(c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

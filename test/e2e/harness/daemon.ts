import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpGet } from './http.js';
import { tail } from './run.js';

export interface DaemonSpec {
  /** Short label for error messages, e.g. "docker-registry". */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here, so restarts keep the earlier runs' lines. */
  logFile: string;
  /** Polled until it answers readyStatus. */
  readyUrl: string;
  readyStatus?: number;
  readyTimeoutMs?: number;
}

const POLL_MS = 100;
const STOP_GRACE_MS = 5000;

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * A long-running child process (a registry, the mirror) that is ready once an
 * HTTP URL answers. Output goes straight to a log file, not through this
 * process, so it survives a jest crash and can be quoted in failures.
 */
export class Daemon {
  private readonly exited: Promise<void>;
  /** Set once the process has failed to start or has exited; read while waiting for readiness. */
  private failure: string | undefined;

  private constructor(
    private readonly spec: DaemonSpec,
    private readonly child: ChildProcess,
  ) {
    live.add(child);
    child.once('error', (err) => {
      this.failure ??= `could not start: ${err.message}`;
      live.delete(child);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.failure ??= `exited (code ${code}, signal ${signal})`;
        live.delete(child);
        resolve();
      });
    });
  }

  /** Spawns the process and resolves once readyUrl answers; rejects (and kills it) otherwise. */
  static async start(spec: DaemonSpec): Promise<Daemon> {
    const log = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log); // the child holds its own copy of the descriptor
    }
    const daemon = new Daemon(spec, child);
    try {
      await daemon.waitReady();
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  /** The child's process id, e.g. to read /proc/<pid>/status; undefined if spawn failed. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    // No pid: spawn itself failed (e.g. ENOENT), and no 'exit' event will follow.
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if still alive after 5 s; resolves once the process is gone. Safe to repeat. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    // The grace timer is cancelled on exit, or it would hold jest open for 5 s.
    const grace = new AbortController();
    const graceful = await Promise.race([this.exited.then(() => true), sleep(STOP_GRACE_MS, false, { signal: grace.signal }).catch(() => true)]);
    grace.abort();
    if (!graceful) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** The end of the log file, for failure messages. */
  async logTail(chars = 4000): Promise<string> {
    return tail(await readFile(this.spec.logFile, 'utf8').catch(() => '(no log file)'), chars);
  }

  private async waitReady(): Promise<void> {
    const { name, readyUrl, readyStatus = 200, readyTimeoutMs = 30_000 } = this.spec;
    const deadline = Date.now() + readyTimeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline && this.failure === undefined) {
      try {
        const res = await httpGet(readyUrl, { timeoutMs: 2000 });
        if (res.status === readyStatus) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(POLL_MS);
    }
    const why = this.failure ?? `not ready after ${readyTimeoutMs} ms (last: ${last})`;
    throw new Error(
      `${name} (${this.spec.command} ${this.spec.args.join(' ')}): ${why}\n` +
        `  waiting for GET ${readyUrl} → ${readyStatus}\n  log ${this.spec.logFile}:\n${await this.logTail()}`,
    );
  }
}

import { join } from 'node:path';
import { Daemon, type DaemonSpec } from './daemon.js';
import { LOOPBACK } from './ports.js';
import { removeDir } from './tmp.js';

/** What a subclass supplies; the log file, host and port are the base class's. */
export type ServerCommand = Omit<DaemonSpec, 'logFile'>;

/**
 * An HTTP server run as a child process on a fixed loopback port, owning one
 * temp dir (config, storage, log). stop() then start() brings it back on the
 * same port with the same files, which is how tests take a server away and
 * return it. dispose() stops it and deletes the dir.
 */
export abstract class LocalServer {
  private daemon: Daemon | undefined;

  protected constructor(
    /** Names the log file and error messages. */
    readonly label: string,
    readonly port: number,
    readonly dir: string,
  ) {}

  /** The command that runs the server; called on every start(). */
  protected abstract command(): ServerCommand;

  /** host:port, as it appears in image references. */
  get host(): string {
    return `${LOOPBACK}:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  get logFile(): string {
    return join(this.dir, `${this.label}.log`);
  }

  /** The running server's process id; undefined when stopped. */
  get pid(): number | undefined {
    return this.running ? this.daemon?.pid : undefined;
  }

  get running(): boolean {
    return this.daemon?.running ?? false;
  }

  /** Starts the server (no-op if running) and resolves once it answers its ready URL. */
  async start(): Promise<void> {
    if (this.running) return;
    this.daemon = await Daemon.start({ ...this.command(), logFile: this.logFile });
  }

  async stop(): Promise<void> {
    await this.daemon?.stop();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await removeDir(this.dir);
  }

  /** The end of the server's log, to quote when a client fails against it. */
  async logTail(chars?: number): Promise<string> {
    return this.daemon ? this.daemon.logTail(chars) : '(never started)';
  }
}

/** Runs prepare() and start(); on failure disposes the server so no process or temp dir leaks. */
export async function launch<T extends LocalServer>(server: T, prepare?: () => Promise<void>): Promise<T> {
  try {
    await prepare?.();
    await server.start();
    return server;
  } catch (err) {
    await server.dispose();
    throw err;
  }
}

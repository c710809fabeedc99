import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, LOOPBACK } from './ports.js';
import { tail } from './run.js';
import { makeTempDir, removeDir } from './tmp.js';

/** Debian's redis-server (scripts/install-redis-deps.sh). */
const REDIS_BIN = '/usr/bin/redis-server';
const READY_TIMEOUT_MS = 20_000;
const POLL_MS = 50;

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * A throwaway redis-server on a free 127.0.0.1 port, in a temp dir, with no persistence
 * (`--save '' --appendonly no`): a restart comes back empty, as a Redis that lost its memory would.
 * stop() is kill -9 (what a crash looks like to the replicas); restart() brings it back on the
 * same port. Usable from unit and e2e suites alike.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** Starts a server and resolves once it answers PING; dispose() it in afterAll. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), await makeTempDir('redis'));
    try {
      await server.restart();
      return server;
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }

  /** What `cluster.redis.url` takes. */
  get url(): string {
    return `redis://${LOOPBACK}:${this.port}`;
  }

  get logFile(): string {
    return join(this.dir, 'redis.log');
  }

  get running(): boolean {
    return this.child?.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** kill -9; resolves once the process is gone. Safe to repeat. */
  async stop(): Promise<void> {
    if (this.running) this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** Starts the server on the same port (a no-op if running), empty; resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.running) return;
    const log = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(REDIS_BIN, ['--port', String(this.port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no'], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log); // the child holds its own copy
    }
    this.child = child;
    live.add(child);
    let failure: string | undefined;
    child.once('error', (err) => (failure ??= `could not start: ${err.message}`));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        failure ??= `exited (code ${code}, signal ${signal})`;
        live.delete(child);
        resolve();
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = 'no answer yet';
    while (Date.now() < deadline && failure === undefined) {
      try {
        if ((await this.command('PING')) === '+PONG') return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(POLL_MS);
    }
    await this.stop();
    throw new Error(`redis-server on ${this.port}: ${failure ?? `no PONG after ${READY_TIMEOUT_MS} ms (last: ${last})`}\n${await this.logTail()}`);
  }

  /**
   * One inline command on a fresh connection, answered with the raw reply (e.g. "+PONG"; a bulk
   * reply's text without its length line). For PING, INFO, DBSIZE, FLUSHALL in tests; not a client.
   */
  command(...words: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: LOOPBACK, port: this.port });
      const request = `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
      let reply = '';
      socket.setTimeout(5000, () => socket.destroy(new Error('no reply within 5 s')));
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk) => {
        reply += chunk.toString('utf8');
        const complete = wholeReply(reply);
        if (complete !== undefined) {
          socket.end();
          resolve(complete);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`connection closed (reply so far: ${JSON.stringify(reply)})`)));
    });
  }

  /** Per-command call counts from INFO commandstats, e.g. { get: 12, set: 3 }. */
  async commandCounts(): Promise<Record<string, number>> {
    const info = await this.command('INFO', 'commandstats');
    const counts: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[m[1]!] = Number(m[2]);
    return counts;
  }

  async logTail(chars = 4000): Promise<string> {
    return tail(await readFile(this.logFile, 'utf8').catch(() => '(no log file)'), chars);
  }

  async dispose(): Promise<void> {
    await this.stop();
    await removeDir(this.dir);
  }
}

/** A whole RESP reply in `raw`, as text (simple, error, integer, or bulk's payload), or undefined if more is to come. */
function wholeReply(raw: string): string | undefined {
  const eol = raw.indexOf('\r\n');
  if (eol < 0) return undefined;
  if (!raw.startsWith('$')) return raw.slice(0, eol);
  const length = Number(raw.slice(1, eol));
  if (length < 0) return '';
  const body = Buffer.from(raw.slice(eol + 2), 'utf8');
  return body.length >= length + 2 ? body.subarray(0, length).toString('utf8') : undefined;
}

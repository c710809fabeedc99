import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this long; the error says so. */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** How much of stderr/stdout an error message quotes: enough for the cause, not a whole debug log. */
const TAIL_CHARS = 4000;

export function tail(text: string, chars = TAIL_CHARS): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

/**
 * Runs one command to completion and resolves with its output; rejects on a
 * non-zero exit, a signal, or a spawn failure with an error naming the command,
 * the exit code and the tail of stderr, so a failing test says why by itself.
 * stdout stays a Buffer: callers hash it (`skopeo inspect --raw`), and a string
 * round-trip could alter the bytes.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const shown = [command, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);

    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${shown}: could not start: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const err = Buffer.concat(stderr).toString('utf8');
      const out = Buffer.concat(stdout);
      if (code === 0) {
        resolve({ stdout: out, stderr: err });
        return;
      }
      const how = timedOut ? `killed after ${options.timeoutMs} ms` : signal ? `killed by ${signal}` : `exit code ${code}`;
      const detail = err.trim() || out.toString('utf8').trim() || '(no output)';
      reject(new Error(`${shown}\n  failed: ${how}\n  output tail:\n${tail(detail)}`));
    });
  });
}

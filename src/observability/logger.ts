import { pino, type Logger } from 'pino';

/** JSON lines to stdout; human-readable when stdout is a terminal. Never logs request headers. */
export function createLogger(level: string): Logger {
  const pretty = process.stdout.isTTY && !process.env.CI;
  return pino({
    level,
    base: undefined,
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
    redact: { paths: ['password', '*.password', 'authorization', '*.authorization', 'token'], censor: '[redacted]' },
  });
}

/**
 * Process warnings (a library's deprecation, the AWS SDK's Node-version notice, a listener leak)
 * as warn lines in the log, instead of Node's plain text on stderr: every line the server writes
 * is JSON. Node's own listener, which prints them, is removed.
 */
export function logProcessWarnings(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const { name, message, stack } = warning;
    const code = (warning as { code?: string }).code;
    log.warn({ warning: { name, ...(code ? { code } : {}), message, stack } }, `process warning: ${name}: ${message}`);
  });
}

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

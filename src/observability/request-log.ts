import { performance } from 'node:perf_hooks';
import type { Next } from 'koa';
import type { Logger } from 'pino';
import type { ApiContext } from '../api/context.js';
import type { LogLimiter } from './log-limiter.js';
import type { Metrics } from './metrics.js';
import { withRequestNotes } from './request-context.js';

/**
 * Probes, scrapes and the status page's polling come every few seconds; when they succeed their
 * lines are debug, not info, or they would be most of the log.
 */
const QUIET_ROUTES = new Set(['healthz', 'readyz', 'metrics', 'status', 'status-page']);

/**
 * One line and one metrics observation per request, written when the response is finished or the
 * client went away, so streamed blobs are logged with their outcome. No headers are logged (they
 * carry credentials). Error lines (status ≥ 400) go through the limiter, keyed by method, path,
 * status and error code: a client retrying the same failing request gets one line per window.
 */
export function requestLog(log: Logger, limiter: LogLimiter, metrics: Metrics) {
  return async (ctx: ApiContext, next: Next): Promise<void> => {
    const started = performance.now();
    const client = ctx.ip;
    let logged = false;
    // 'finish' when the last byte was handed to the OS; 'close' alone when the body ended early.
    const done = (closedEarly: boolean) => {
      if (logged) return;
      logged = true;
      const { state, method } = ctx;
      // A body the mirror cut (a fetch that failed mid-stream) names its cause in state.error;
      // any other early close is the client hanging up: 499, as nginx logs it.
      const cut = closedEarly && state.error !== undefined && ctx.res.headersSent;
      const aborted = closedEarly && !cut;
      const status = aborted ? 499 : ctx.status;
      const seconds = (performance.now() - started) / 1000;
      const route = state.route ?? 'unknown';
      // Body bytes: what a streamed body handed to the connection, else the length of a complete one.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- Koa's ctx.length is undefined for a body of unknown length, whatever its types say
      const bytes = method === 'HEAD' || status === 304 ? 0 : (state.bytesSent ?? (closedEarly ? 0 : (ctx.length ?? 0)));
      metrics.observeRequest({ route, method, status, bytes, seconds, cache: state.cache });
      const line = {
        method,
        path: ctx.path,
        status,
        bytes,
        ms: Math.round(seconds * 1000),
        cache: state.cache,
        upstreamStatus: state.upstreamStatus,
        error: state.error?.code,
        errorMessage: state.error?.message,
        client,
        ...(state.user ? { user: state.user } : {}),
        ...(closedEarly ? { aborted: true } : {}),
        ...(aborted && ctx.res.headersSent ? { sentStatus: ctx.status } : {}),
      };
      if (status >= 400 || cut) {
        limiter.write(status >= 500 || cut ? 'warn' : 'info', `request|${method}|${ctx.path}|${status}|${state.error?.code ?? ''}`, line, 'request');
      } else if (QUIET_ROUTES.has(route)) {
        log.debug(line, 'request');
      } else {
        log.info(line, 'request');
      }
    };
    ctx.res.once('finish', () => done(false));
    ctx.res.once('close', () => done(!ctx.res.writableFinished));
    // Code below (the upstream client) notes what it saw into ctx.state through async context.
    await withRequestNotes(ctx.state, next);
  };
}

import type { Next } from 'koa';
import type { Logger } from 'pino';
import type { ApiContext } from '../api/context.js';

/**
 * One line per request, written when the response is finished or the client went away, so
 * streamed blobs are logged with their outcome. No headers are logged (they carry credentials).
 */
export function requestLog(log: Logger) {
  return async (ctx: ApiContext, next: Next): Promise<void> => {
    const started = performance.now();
    const client = ctx.ip;
    let logged = false;
    // 'finish' when the last byte was handed to the OS; 'close' alone when the client went away first.
    const done = (aborted: boolean) => {
      if (logged) return;
      logged = true;
      const line = {
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        bytes: ctx.length,
        ms: Math.round(performance.now() - started),
        cache: ctx.state.cache,
        client,
        ...(aborted ? { aborted: true } : {}),
      };
      if (ctx.status >= 500) log.warn(line, 'request');
      else log.info(line, 'request');
    };
    ctx.res.once('finish', () => done(false));
    ctx.res.once('close', () => done(!ctx.res.writableFinished));
    await next();
  };
}

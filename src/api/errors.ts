import type { Next } from 'koa';
import type { LogLimiter } from '../observability/log-limiter.js';
import { RegistryError, errorBody } from '../oci/errors.js';
import { StorageError } from '../storage/driver.js';
import type { ApiContext } from './context.js';

/**
 * Renders every failure as OCI error JSON. RegistryErrors carry their own code; a storage failure
 * is a 503 whose detail stays in the log; anything else is a 500 with no stack trace on the wire.
 */
export function errorMiddleware(log: LogLimiter) {
  return async (ctx: ApiContext, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const error = toRegistryError(err, log, ctx);
      ctx.state.error = { code: error.code, message: error.message };
      ctx.status = error.status;
      ctx.set(error.headers);
      ctx.type = 'application/json';
      // HEAD responses carry the status and headers only.
      ctx.body = ctx.method === 'HEAD' ? null : errorBody(error.code, error.message, error.detail);
      if (ctx.method === 'HEAD') ctx.status = error.status;
    }
  };
}

// Rate-limited by message: a broken disk fails every request the same way, and one line a window
// with a count says as much as ten thousand.
function toRegistryError(err: unknown, log: LogLimiter, ctx: ApiContext): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof StorageError) {
    log.error({ err: err.message, path: ctx.path }, 'storage failure', `storage failure|${err.message}`);
    return new RegistryError('UNAVAILABLE', 'storage unavailable; see the mirror log');
  }
  log.error({ err, path: ctx.path }, 'unexpected error', `unexpected error|${err instanceof Error ? err.message : String(err)}`);
  return new RegistryError('INTERNAL', 'internal error');
}

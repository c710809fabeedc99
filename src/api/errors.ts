import type { Next } from 'koa';
import type { LogLimiter } from '../observability/log-limiter.js';
import { RegistryError, errorBody } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import { StorageKeyError } from '../storage/base.js';
import { StorageError } from '../storage/driver.js';
import type { ApiContext } from './context.js';

/** Headers that describe content; an error response has none of that content, so none of these. */
const CONTENT_HEADERS = [H.contentDigest, H.etag, H.acceptRanges, H.contentRange, H.contentLength, H.location, H.link, 'Last-Modified', 'Cache-Control'];

/**
 * Renders every failure as OCI error JSON. RegistryErrors carry their own code; a storage failure
 * is a 503 whose detail stays in the log; anything else (an invalid storage key included) is a 500
 * with no stack trace on the wire. No content headers set before the failure survive it.
 */
export function errorMiddleware(log: LogLimiter) {
  return async (ctx: ApiContext, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const error = toRegistryError(err, log, ctx);
      ctx.state.error = { code: error.code, message: error.message };
      for (const name of CONTENT_HEADERS) ctx.remove(name);
      ctx.status = error.status;
      ctx.set(error.headers);
      // On HEAD too: Koa sends no body then, but its Content-Length is the one a GET would get.
      ctx.body = errorBody(error.code, error.message, error.detail);
      ctx.type = 'application/json';
    }
  };
}

// Rate-limited by message: a broken disk fails every request the same way, and one line a window
// with a count says as much as ten thousand.
function toRegistryError(err: unknown, log: LogLimiter, ctx: ApiContext): RegistryError {
  if (err instanceof RegistryError) return err;
  if (err instanceof StorageKeyError) {
    // Our bug (a key built from something the layout does not allow), not an outage: never "storage unavailable".
    log.error({ err: err.message, path: ctx.path }, 'invalid storage key', `invalid storage key|${err.message}`);
    return new RegistryError('INTERNAL', 'internal error: invalid storage key; see the mirror log');
  }
  if (err instanceof StorageError) {
    log.error({ err: err.message, path: ctx.path }, 'storage failure', `storage failure|${err.message}`);
    return new RegistryError('UNAVAILABLE', 'storage unavailable; see the mirror log');
  }
  log.error({ err, path: ctx.path }, 'unexpected error', `unexpected error|${err instanceof Error ? err.message : String(err)}`);
  return new RegistryError('INTERNAL', 'internal error');
}

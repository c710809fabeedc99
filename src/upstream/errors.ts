import { RegistryError } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import type { Refusal } from './health.js';

function causeText(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  // Prefer the OS's sentence ("connect ECONNREFUSED 127.0.0.1:9") over the bare code.
  return e?.cause?.message || e?.message || e?.cause?.code || e?.code || String(err);
}

/**
 * The upstream failed us: unreachable, timed out, 5xx, 429, denied, or spoke nonsense. The cache
 * serves a stale copy on any of these (stale-if-error); with nothing cached the client gets this
 * error: 429 with Retry-After for rate limits, 503 UNAVAILABLE otherwise.
 */
export class UpstreamError extends RegistryError {
  private constructor(
    code: 'TOOMANYREQUESTS' | 'UNAVAILABLE',
    message: string,
    headers: Record<string, string>,
    readonly upstreamStatus?: number,
    /** Not sent at all: the upstream is held down (its state change was logged once, this need not be). */
    readonly heldBack = false,
  ) {
    super(code, message, headers);
    this.name = 'UpstreamError';
  }

  static unreachable(upstream: string, what: string, err: unknown): UpstreamError {
    return new UpstreamError('UNAVAILABLE', `upstream ${upstream} unreachable (${what}): ${causeText(err)}`, {});
  }

  static status(upstream: string, what: string, status: number, headers: Record<string, string | string[] | undefined>): UpstreamError {
    if (status === 429) {
      const retryAfter = headers[H.retryAfter.toLowerCase()];
      return new UpstreamError(
        'TOOMANYREQUESTS',
        `upstream ${upstream} rate limit reached (${what}); nothing cached to serve instead`,
        { [H.retryAfter]: String(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter ?? '60') },
        status,
      );
    }
    return new UpstreamError('UNAVAILABLE', `upstream ${upstream} answered ${status} (${what})`, {}, status);
  }

  /** Held back by the health gate: the upstream failed lately and it is not yet time to ask again. */
  static down(upstream: string, what: string, refusal: Refusal): UpstreamError {
    const retryIn = Math.max(0, Math.ceil((refusal.nextProbeAt - Date.now()) / 1000));
    if (refusal.retryAfterSeconds !== undefined) {
      return new UpstreamError(
        'TOOMANYREQUESTS',
        `upstream ${upstream} rate limit reached (${what} not sent; ${refusal.reason}); nothing cached to serve instead`,
        { [H.retryAfter]: String(refusal.retryAfterSeconds) },
        429,
        true,
      );
    }
    return new UpstreamError('UNAVAILABLE', `upstream ${upstream} is down (${what} not sent; last failure: ${refusal.reason}); next try in ${retryIn}s`, {}, undefined, true);
  }

  static protocol(upstream: string, message: string): UpstreamError {
    return new UpstreamError('UNAVAILABLE', `upstream ${upstream}: ${message}`, {});
  }
}

import { RegistryError, type ErrorCode } from '../oci/errors.js';
import { H } from '../oci/headers.js';
import type { UpstreamAnswer } from './error-body.js';
import type { Refusal } from './health.js';
import { readRateLimit, retryAfterSeconds } from './rate-limit.js';

/** With no Retry-After and no rate-limit window to go by: a minute. */
const DEFAULT_RETRY_AFTER_S = 60;

/**
 * Upstream 4xx codes the client can act on (log in, fix the name, wait), passed through as the
 * upstream said them; any other 4xx, and every 5xx, is our 503 UNAVAILABLE with the upstream's words in it.
 */
const PASSED_THROUGH = new Set<string>([
  'DENIED',
  'UNAUTHORIZED',
  'TOOMANYREQUESTS',
  'NAME_UNKNOWN',
  'NAME_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_INVALID',
  'BLOB_UNKNOWN',
  'TAG_INVALID',
  'DIGEST_INVALID',
  'UNSUPPORTED',
]);

/** The code for an upstream's refusal: its own when actionable, else by status (401, 403, 429), else 503. */
function codeFor(status: number, answer: UpstreamAnswer): ErrorCode {
  if (status === 429) return 'TOOMANYREQUESTS';
  if (status >= 500) return 'UNAVAILABLE';
  if (answer.code !== undefined && PASSED_THROUGH.has(answer.code)) return answer.code as ErrorCode;
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  return 'UNAVAILABLE';
}

function causeText(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } } | null | undefined;
  // Prefer the OS's sentence ("connect ECONNREFUSED 127.0.0.1:9") over the bare code.
  return e?.cause?.message || e?.message || e?.cause?.code || e?.code || String(err);
}

/**
 * The upstream failed us: unreachable, timed out, 5xx, 429, denied, or spoke nonsense. The cache
 * serves a stale copy on any of these (stale-if-error); with nothing cached the client gets this
 * error: 429 with Retry-After for rate limits, the upstream's own code for a refusal it can act on
 * (DENIED, UNAUTHORIZED…), 503 UNAVAILABLE otherwise, each with the upstream's message.
 */
export class UpstreamError extends RegistryError {
  private constructor(
    code: ErrorCode,
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

  /** A non-2xx answer (other than the 404s callers map themselves); `answer` is what its body said. */
  static status(
    upstream: string,
    what: string,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    answer: UpstreamAnswer = {},
  ): UpstreamError {
    const code = codeFor(status, answer);
    const said = answer.message === undefined ? '' : `: ${answer.message}`;
    if (code === 'TOOMANYREQUESTS') {
      const retryAfter = retryAfterSeconds(headers, readRateLimit(headers)) ?? DEFAULT_RETRY_AFTER_S;
      return new UpstreamError(
        code,
        `upstream ${upstream} rate limit reached (${what})${said}; nothing cached to serve instead`,
        { [H.retryAfter]: String(retryAfter) },
        status,
      );
    }
    const theirs = answer.code === undefined ? '' : ` ${answer.code}`;
    return new UpstreamError(code, `upstream ${upstream} answered ${status}${theirs} (${what})${said}`, {}, status);
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
    return new UpstreamError(
      'UNAVAILABLE',
      `upstream ${upstream} is down (${what} not sent; last failure: ${refusal.reason}); next try in ${retryIn}s`,
      {},
      undefined,
      true,
    );
  }

  static protocol(upstream: string, message: string): UpstreamError {
    return new UpstreamError('UNAVAILABLE', `upstream ${upstream}: ${message}`, {});
  }
}

import { H } from '../oci/headers.js';

/** The last Docker Hub rate-limit headers seen: `ratelimit-remaining: 76;w=21600`. */
export interface RateLimit {
  limit?: number;
  remaining?: number;
  windowSeconds?: number;
  seenAt: Date;
}

function parseQuota(value: unknown): { n?: number; w?: number } {
  if (typeof value !== 'string') return {};
  const m = /^\s*(\d+)(?:\s*;\s*w=(\d+))?/.exec(value);
  return m ? { n: Number(m[1]), w: m[2] === undefined ? undefined : Number(m[2]) } : {};
}

/** The rate limit carried by a response's headers, or undefined if it carries none. */
export function readRateLimit(headers: Record<string, string | string[] | undefined>): RateLimit | undefined {
  const limit = parseQuota(headers[H.rateLimitLimit]);
  const remaining = parseQuota(headers[H.rateLimitRemaining]);
  if (limit.n === undefined && remaining.n === undefined) return undefined;
  return { limit: limit.n, remaining: remaining.n, windowSeconds: remaining.w ?? limit.w, seenAt: new Date() };
}

/**
 * How long a 429 asks us to stay away: its Retry-After (seconds or an HTTP date), else its
 * `ratelimit-reset` (seconds until the window resets), else, when the quota is spent, the
 * `w=` window of `ratelimit-remaining: 0;w=21600`; undefined when it says none of these (the
 * health backoff then applies).
 */
export function retryAfterSeconds(headers: Record<string, string | string[] | undefined>, rateLimit: RateLimit | undefined): number | undefined {
  const value = first(headers[H.retryAfter.toLowerCase()]);
  if (value !== undefined) {
    if (/^\s*\d+\s*$/.test(value)) return Number(value);
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }
  const reset = first(headers[H.rateLimitReset]);
  if (reset !== undefined && /^\s*\d+\s*$/.test(reset)) return Number(reset);
  if (rateLimit?.remaining === 0 && rateLimit.windowSeconds !== undefined) return rateLimit.windowSeconds;
  return undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

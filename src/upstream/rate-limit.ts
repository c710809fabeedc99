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

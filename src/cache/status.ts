/**
 * How a request was answered, for the request log and metrics:
 * hit (from storage), miss (fetched upstream by this request), coalesced (waited for another
 * request's fetch), stale (cached tag past its TTL, served while it is revalidated in the
 * background or because the upstream failed), revalidated (tag
 * older than its TTL, confirmed unchanged by a HEAD), upstream (answered from upstream, not cached).
 */
export type CacheStatus = 'hit' | 'miss' | 'coalesced' | 'stale' | 'revalidated' | 'upstream';

/** Outcomes whose bytes came from storage, and which cost the upstream no GET: a pull saved. */
export const SERVED_FROM_CACHE: ReadonlySet<CacheStatus | undefined> = new Set<CacheStatus>(['hit', 'stale', 'revalidated', 'coalesced']);

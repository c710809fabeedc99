/**
 * How a request was answered, for the request log and metrics:
 * hit (from storage), miss (fetched upstream by this request), coalesced (waited for another
 * request's fetch), stale (cached tag served because the upstream failed), revalidated (tag
 * older than its TTL, confirmed unchanged by a HEAD), upstream (answered from upstream, not cached).
 */
export type CacheStatus = 'hit' | 'miss' | 'coalesced' | 'stale' | 'revalidated' | 'upstream';

/** Header names in one place, so a misspelling is a compile error rather than a silent fallback. */
export const H = {
  apiVersion: 'Docker-Distribution-API-Version',
  contentDigest: 'Docker-Content-Digest',
  contentType: 'Content-Type',
  contentLength: 'Content-Length',
  contentRange: 'Content-Range',
  acceptRanges: 'Accept-Ranges',
  etag: 'ETag',
  range: 'Range',
  retryAfter: 'Retry-After',
  link: 'Link',
  accept: 'Accept',
  authorization: 'Authorization',
  wwwAuthenticate: 'WWW-Authenticate',
  location: 'Location',
  /** OCI 1.1 referrers: which query filters the answer applied (`artifactType`). */
  ociFiltersApplied: 'OCI-Filters-Applied',
  rateLimitLimit: 'ratelimit-limit',
  rateLimitRemaining: 'ratelimit-remaining',
  rateLimitReset: 'ratelimit-reset',
} as const;

export const API_VERSION = 'registry/2.0';

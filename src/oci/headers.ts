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
  rateLimitLimit: 'ratelimit-limit',
  rateLimitRemaining: 'ratelimit-remaining',
} as const;

export const API_VERSION = 'registry/2.0';
